"""Care-plan pages: ``nurse`` (/nurse/patients/<id>/care-plan/...), ``patient``
(/me/care-plan/...) and ``links`` (/care-plan/shared/<token>/, the one-time link for the
primary care provider). Views are thin: selectors read, services write."""
