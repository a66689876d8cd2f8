"""`evsh verify`: property-based checks of a domain (hypothesis is imported only when it runs).

A domain module may steer the generated commands without importing hypothesis itself::

    from evsh.verify import strategy

    @strategy("user.register.email")
    def emails(st):
        return st.emails()
"""

from .strategies import OVERRIDES_NAME, strategy

__all__ = ["OVERRIDES_NAME", "strategy"]
