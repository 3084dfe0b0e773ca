"""The survivorship care plan (issue 15): the treatment summary, who is responsible for
what, the generated document (HTML and PDF, for the patient and for primary care), its
delivered versions and the one-time links that hand a version to primary care.

``document`` builds the document's data, ``presenters`` and ``render`` turn it into pages,
``services`` write, ``selectors`` read, ``views`` serve the nurse, the patient and the
primary care provider.
"""
