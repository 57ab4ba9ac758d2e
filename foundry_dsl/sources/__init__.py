"""Sources: api, db, files, custom, behind one streaming interface (``base``)."""
