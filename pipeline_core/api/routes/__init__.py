"""The API's routes, one module per area; :data:`ENDPOINTS` lists them all."""
