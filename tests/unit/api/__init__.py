"""The query API's pure parts: references, alert openness, paging, the index tables, the OpenAPI document."""
