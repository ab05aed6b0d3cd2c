"""Shared pytest set-up. Fixture modules are plugins so that each area keeps its own file."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.kube",
    "tests.fixtures.prometheus",
]
