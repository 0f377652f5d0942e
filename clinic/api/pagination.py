import json
import re
from collections.abc import Iterable
from typing import Any, cast

from django.core.paginator import Page
from django.http import HttpResponse
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int | None:
        """?page_size= is a whole number from 1 (above max_page_size, the max); anything else is a
        400 naming it. DRF's own reading fell back to the default page for "abc", "-3" or "0",
        answering a request the schema calls invalid as if it were valid."""
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        if len(values) > 1 or not _WHOLE_NUMBER.fullmatch(values[0]) or int(values[0]) < 1:
            raise ValidationError({self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]})
        return min(int(values[0]), self.max_page_size)

    def get_json_paginated_response(self, records: Iterable[str]) -> HttpResponse:
        """get_paginated_response's body for records that are JSON text already (built by
        PostgreSQL), passed through rather than decoded and encoded again."""
        page = cast(Page[Any], self.page)  # set by paginate_queryset: get_page_size always gives a size
        head = json.dumps(
            {"count": page.paginator.count, "next": self.get_next_link(), "previous": self.get_previous_link()}
        )
        body = f'{head[:-1]}, "results": [{",".join(records)}]}}'
        return HttpResponse(body, content_type="application/json")

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
        return parameters
