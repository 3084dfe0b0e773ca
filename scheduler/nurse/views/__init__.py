"""The nurse workspace, one module per page: caseload, worklist, patient, events, enrolment
and invitation.

Views are thin: they reach patients and events through ``scheduler.access`` (a patient
outside the nurse's care teams is a 404, a non-nurse a 403), parse input with
``scheduler.nurse.forms``, change things only through ``scheduler.plans.services`` and build
what they show with ``scheduler.nurse.presenters``. "Today" is the nurse's local date.
"""
