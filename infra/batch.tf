# GPU Spot compute environment on the ECS GPU AMI. ECS_AL2_NVIDIA is explicit: the default AMI has no NVIDIA
# driver, and jobs then fail with "nvidia-smi not found" (seed).
resource "aws_batch_compute_environment" "gpu" {
  compute_environment_name_prefix = "${local.name}-gpu-"
  type                            = "MANAGED"

  compute_resources {
    type                = "SPOT"
    allocation_strategy = "SPOT_PRICE_CAPACITY_OPTIMIZED"
    min_vcpus           = 0
    max_vcpus           = local.max_vcpus
    instance_type       = var.instance_types
    instance_role       = aws_iam_instance_profile.ecs_instance.arn
    security_group_ids  = [aws_security_group.batch.id]
    subnets             = local.subnet_ids

    ec2_configuration {
      image_type = "ECS_AL2_NVIDIA"
    }

    launch_template {
      launch_template_id = aws_launch_template.gpu.id
      version            = aws_launch_template.gpu.latest_version
    }
  }

  # Most changes replace a compute environment; the queue must always point at one, so the new one is
  # created (under a fresh name from the prefix) before the old one is destroyed.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_batch_job_queue" "gpu" {
  name     = "${local.name}-gpu"
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.gpu.arn
  }
}

locals {
  # Everything the container needs from its definition. The Pipes bootstrap (DAGSTER_PIPES_CONTEXT and
  # DAGSTER_PIPES_MESSAGES) is set per job by the launcher; what to process travels in the Pipes context.
  # No `secrets`: the worker needs no credential beyond its job role (it never connects to WRDS), so nothing
  # from Secrets Manager is injected, and the execution role has no Secrets Manager access.
  worker_container = {
    image            = local.worker_image
    command          = ["python", "-m", "ftm_assets.worker"]
    jobRoleArn       = aws_iam_role.job.arn
    executionRoleArn = aws_iam_role.execution.arn
    resourceRequirements = [
      { type = "GPU", value = "1" },
      { type = "VCPU", value = tostring(var.job_vcpus) },
      { type = "MEMORY", value = tostring(var.job_memory_mib) },
    ]
    environment = [
      { name = "FTM_DEVICE", value = "cuda" },
      { name = "AWS_DEFAULT_REGION", value = local.region },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.worker.name
        "awslogs-region"        = local.region
        "awslogs-stream-prefix" = local.name
      }
    }
    privileged             = false
    readonlyRootFilesystem = false
  }
}

resource "aws_batch_job_definition" "worker" {
  name                  = "${local.name}-worker"
  type                  = "container"
  platform_capabilities = ["EC2"]
  propagate_tags        = true
  container_properties  = jsonencode(local.worker_container)

  # Spot reclaims and host failures are retried (the worker resumes from its checkpoint); an application
  # error exits at once, since a retry would fail the same way and hold a GPU for nothing. First match wins.
  retry_strategy {
    attempts = var.job_attempts

    evaluate_on_exit {
      action           = "RETRY"
      on_status_reason = "Host EC2*"
    }

    evaluate_on_exit {
      action           = "RETRY"
      on_status_reason = "*Spot*"
    }

    evaluate_on_exit {
      action    = "EXIT"
      on_reason = "*"
    }
  }

  timeout {
    attempt_duration_seconds = var.job_timeout_seconds
  }
}
