"""Case management backend, reduced to its imports.

`core/` and `services/` have `__init__.py`: /app/core is a regular package, found on sys.path
before site-packages, so the `core` in site-packages no longer matters.
"""

from services.case_service import CaseService


def main():
    service = CaseService()
    print("case service ready:", service.describe())


if __name__ == "__main__":
    main()
