"""The autopilot: each task's (model, thinking) chosen by its measured cost per passing
answer on the user's own work, instead of by the hand-written routing table (issue 23).

``policy`` holds what a user may set, ``candidates`` what may be chosen, ``stats`` the
confidence bound, ``evidence`` what was measured (kept across runs), ``decision`` the
choice per task, ``pilot`` the exploration and exploitation of one run, ``summary`` what
the report says."""
