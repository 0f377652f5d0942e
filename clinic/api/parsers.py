from typing import Any

from django.http import QueryDict
from rest_framework import parsers
from rest_framework.exceptions import ParseError

NUL_MESSAGE = "The request holds a NUL character (\\u0000), which no field accepts; remove it and send again."


def refuse_nul(data: Any) -> None:
    """A 400 for a NUL character anywhere in parsed input (keys and values, however nested).
    PostgreSQL cannot store one in text, and a value that reaches a query (a code looked up,
    a filter) failed there as a 500; DRF's CharField refuses them, other fields did not."""
    if isinstance(data, str):
        if "\x00" in data:
            raise ParseError(NUL_MESSAGE)
    elif isinstance(data, QueryDict):
        for key, values in data.lists():
            refuse_nul(key)
            refuse_nul(values)
    elif isinstance(data, dict):
        for key, value in data.items():
            refuse_nul(key)
            refuse_nul(value)
    elif isinstance(data, list | tuple):
        for item in data:
            refuse_nul(item)


class SafeJSONParser(parsers.JSONParser):
    """JSON whose nesting exhausts Python's recursion limit is a 400, not a crash; so is a NUL."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc
        refuse_nul(data)
        return data


class FormParser(parsers.FormParser):
    """A urlencoded form; a NUL in a name or value is a 400."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        refuse_nul(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """A multipart form; a NUL in a field's name or value, or a file's name, is a 400 (a file's
    content is bytes and may hold anything)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        refuse_nul(parsed.data)
        refuse_nul([(name, [upload.name or "" for upload in uploads]) for name, uploads in parsed.files.lists()])
        return parsed
