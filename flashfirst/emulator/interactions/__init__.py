"""The Interactions API: ``interactions`` create, get, cancel and delete, translated to and
from the shared generate path, its event stream, and the ends of background interactions
that webhooks deliver."""
