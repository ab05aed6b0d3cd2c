"""Shared pytest set-up. Fixture modules are plugins so that each area keeps its own file."""

import os
import tempfile

# Notebook kernels (nbmake, the runner) inherit the environment: keep the audit trail of test
# runs out of the work tree.
os.environ.setdefault(
    "FESTSAFE_REMEDIATION__AUDIT_LOG",
    os.path.join(tempfile.mkdtemp(prefix="festsafe-test-audit-"), "audit.jsonl"),
)

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.kube",
    "tests.fixtures.prometheus",
    "tests.fixtures.alerting",
    "tests.fixtures.service_receivers",
]
