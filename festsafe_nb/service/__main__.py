"""``python -m festsafe_nb.service serve ...``: the service without the main CLI."""

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # see festsafe_nb.cli

from festsafe_nb.service.cli import main  # noqa: E402

sys.exit(main())
