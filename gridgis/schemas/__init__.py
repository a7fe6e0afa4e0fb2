"""The schemas of what goes in and out of gridgis: pydantic v2 models.

One model per request or answer, shared by the web API (which validates
requests with them and writes its OpenAPI description from them:
:mod:`gridgis.web.endpoints`), the command line and the library. They know
nothing of Flask or click.

- :mod:`gridgis.schemas.common`: area codes, times, paging;
- :mod:`gridgis.schemas.cases`: cases, their steps, lists and figures;
- :mod:`gridgis.schemas.areas`: areas, health, counts, the signed-in user.
"""
