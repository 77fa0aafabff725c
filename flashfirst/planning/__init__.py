"""From items to routed jobs: the Flash-first router, the jobs and cache decisions it plans,
the thinking lever's calibration sample and the thinking figures kept for estimates."""
