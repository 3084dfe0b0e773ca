"""Care-plan URLs, one module per side: ``nurse`` (under /nurse/patients/<id>/care-plan/),
``patient`` (under /me/care-plan/) and ``public`` (under /care-plan/)."""
