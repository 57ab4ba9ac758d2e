"""What a bucket, a container and a prefix may be: names a path can never climb out of.

Checked when a pipeline file is compiled (validators of the IR's storage models)
and again when a backend is built, for storage blocks made without validation.
"""

from __future__ import annotations


def check_store_name(what: str, value: str) -> str:
    """A bucket or container: one name, which a path can never climb out of."""
    problem = (
        "is empty" if value.strip() == ""
        else "contains a path separator" if "/" in value or "\\" in value
        else f"is '{value}'" if value in (".", "..")
        else None
    )
    if problem:
        raise ValueError(
            f"{what} {value!r} {problem}: a {what} is a single name; "
            "the folders inside it go in prefix"
        )
    return value


def check_store_prefix(value: str) -> str:
    """Folder names joined by ``/`` (outer slashes are dropped where it is used): no
    segment empty, ``.`` or ``..``, no ``\\``, so a prefix never leaves its bucket."""
    inner = value.strip("/")
    segments = inner.split("/") if inner else []
    problem = (
        "contains '\\'" if "\\" in value
        else "has a '..' segment" if ".." in segments
        else "has a '.' segment" if "." in segments
        else "has an empty segment ('//')" if "" in segments
        else None
    )
    if problem:
        raise ValueError(
            f"prefix {value!r} {problem}: write folder names joined by '/', "
            "without '.', '..', '//' or '\\'"
        )
    return value
