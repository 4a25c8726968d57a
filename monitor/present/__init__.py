"""How stored text reaches a person: snippets and highlighting, dates, and the
sanitizer for each kind of output. One implementation of each, used by the
CLI, the alerts and the dashboard alike; none of it does I/O.
"""
