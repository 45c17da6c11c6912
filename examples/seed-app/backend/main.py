"""Case management backend, reduced to its imports.

`core/` and `services/` have no `__init__.py`: locally they work as namespace packages, but in
the image a regular package named `core` in site-packages wins over the namespace directory
/app/core, and `import core.aws_service` fails.
"""

from services.case_service import CaseService


def main():
    service = CaseService()
    print("case service ready:", service.describe())


if __name__ == "__main__":
    main()
