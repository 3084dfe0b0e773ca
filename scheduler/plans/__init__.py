"""Care plans: the plan service (the one way to change a plan), its reads, markers, audit."""
