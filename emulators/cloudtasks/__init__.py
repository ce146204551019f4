"""A Cloud Tasks emulator (`google.cloud.tasks.v2.CloudTasks` over gRPC) that dispatches HTTP tasks."""
