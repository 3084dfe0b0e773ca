"""The nurse workspace: caseload, worklist, patient and event pages, enrolment, digest."""
