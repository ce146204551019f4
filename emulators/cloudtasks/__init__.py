"""Cloud Tasks emulator: `google.cloud.tasks.v2.CloudTasks` over gRPC, dispatching HTTP tasks."""
