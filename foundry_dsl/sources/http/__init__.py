"""The HTTP machinery behind the API source (``foundry_dsl.sources.api``).

``auth`` turns an :class:`~foundry_dsl.ir.Auth` into headers and params,
``transport`` does one HTTP exchange on pooled urllib3 connections,
``client`` sends requests with a rate limit, retries and redaction,
``pagination`` decides each next request and when to stop, ``records`` parses
a body and finds its records, ``fetch`` turns a request into a parsed page,
``landing`` turns a page's records into what lands (the replay window's cut,
the cursor's top, the Arrow batch: ``landing.page_to_arrow``, which falls back
to :func:`foundry_dsl.write.convert.to_table` for mixed types),
``page_workers`` runs ``fetch`` and ``landing`` in worker processes for a long
extraction, ``collector`` spaces out young garbage collections while pages
stream.
"""
