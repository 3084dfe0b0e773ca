"""Working with the hospital's systems: FHIR R4 export and the read-only FHIR API, bulk
enrolment from CSV or a FHIR Bundle, and the caseload as CSV."""
