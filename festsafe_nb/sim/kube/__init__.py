"""A Kubernetes API emulator, part of the simulated FestSafe platform.

No API server can run on the test machines or in the demo, so the real ``kubernetes`` client
code and the real ``kubectl`` binary talk to this emulator instead: in tests (the
``kube_emulator`` fixtures) and in the demo environment (started in-process, in the notebook
kernel), where the remediation actions act on it. Modules: ``server`` (thread runner and
synchronous API), ``handler`` (kmock subclass: HTTP semantics), ``controller`` (deployment
rollouts), ``selectors``, ``patches``, ``tables`` (kubectl columns), ``protobuf`` (kubectl's
Job), ``seeds`` (object builders), ``snapshot`` (normalised comparison).
"""

from festsafe_nb.sim.kube.common import ApiError, Obj, now_utc, rfc3339
from festsafe_nb.sim.kube.server import KUBECTL, KubeEmulator

__all__ = ["KUBECTL", "ApiError", "KubeEmulator", "Obj", "now_utc", "rfc3339"]
