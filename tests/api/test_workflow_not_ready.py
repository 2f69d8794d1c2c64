"""Temporal's "workflow not ready" (an update refused while the workflow's last task failed, as
after a worker killed mid-task) is a 503 to retry, not a 500: found by the chaos test."""

from google.protobuf.any_pb2 import Any as AnyDetail
from temporalio.api.common.v1 import GrpcStatus
from temporalio.service import RPCError, RPCStatusCode

from api.problems import is_unavailable

NOT_READY = "type.googleapis.com/temporal.api.errordetails.v1.WorkflowNotReadyFailure"
MESSAGE = "Unable to perform workflow execution update due to Workflow Task in failed state."


def rpc_error(status: RPCStatusCode, detail_type: str | None) -> RPCError:
    details = [AnyDetail(type_url=detail_type)] if detail_type else []
    raw = GrpcStatus(code=status.value, message=MESSAGE, details=details).SerializeToString()
    return RPCError(MESSAGE, status, raw)


def test_an_update_refused_while_the_workflow_is_not_ready_is_unavailable_for_now() -> None:
    assert is_unavailable(rpc_error(RPCStatusCode.FAILED_PRECONDITION, NOT_READY))


def test_other_failed_preconditions_are_not() -> None:
    assert not is_unavailable(rpc_error(RPCStatusCode.FAILED_PRECONDITION, None))
    other = NOT_READY.replace("WorkflowNotReady", "WorkflowExecutionAlreadyStarted")
    assert not is_unavailable(rpc_error(RPCStatusCode.FAILED_PRECONDITION, other))
