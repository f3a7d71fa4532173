# Four roles, each with only what its holder does:
#   ecs_instance - the GPU instances' ECS agent (AWS's managed policy for ECS container instances);
#   execution    - pulls the worker image and writes its logs;
#   job          - the worker itself: its S3 prefixes, nothing else;
#   dagster      - the code location (webserver, daemon, runs): submits and watches jobs, reads the WRDS secret.
# Batch's own service role is AWS's service-linked role (created on first use), so none is defined here.

data "aws_iam_policy_document" "assume_ec2" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "assume_ecs_tasks" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "ecs_instance" {
  name               = "${local.name}-batch-instance"
  assume_role_policy = data.aws_iam_policy_document.assume_ec2.json
}

resource "aws_iam_role_policy_attachment" "ecs_instance" {
  role       = aws_iam_role.ecs_instance.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "ecs_instance" {
  name = "${local.name}-batch-instance"
  role = aws_iam_role.ecs_instance.name
}

resource "aws_iam_role" "execution" {
  name               = "${local.name}-worker-execution"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

data "aws_iam_policy_document" "execution" {
  # ecr:GetAuthorizationToken has no resource-level permissions: AWS requires "*".
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullWorkerImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [aws_ecr_repository.worker.arn]
  }

  statement {
    sid       = "WriteWorkerLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.worker.arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-image-write-logs"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "job" {
  name               = "${local.name}-worker-job"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

locals {
  # Key prefixes under the storage root (ftm_assets/storage/layout.py, and the launcher's pipes/ channel).
  worker_reads  = ["raw/transcripts/", "manifests/", "pipes/", "progress/", "intermediate/", "failures/"]
  worker_writes = ["intermediate/", "failures/", "progress/", "pipes/"]
}

data "aws_iam_policy_document" "job" {
  statement {
    sid       = "ListOwnPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [for p in local.worker_reads : "${local.key_prefix}${p}*"]
    }
  }

  statement {
    sid       = "ReadInputs"
    actions   = ["s3:GetObject"]
    resources = [for p in local.worker_reads : "${local.bucket_arn}/${local.key_prefix}${p}*"]
  }

  # Delete: a re-run replaces its partition's parts, and a finished batch removes its checkpoint.
  statement {
    sid       = "WriteOutputs"
    actions   = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [for p in local.worker_writes : "${local.bucket_arn}/${local.key_prefix}${p}*"]
  }
}

resource "aws_iam_role_policy" "job" {
  name   = "storage-prefixes"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}

# The Dagster side: attach this role to the ECS tasks (or the instance) that run the webserver and daemon.
resource "aws_iam_role" "dagster" {
  name               = "${local.name}-dagster"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
}

data "aws_iam_policy_document" "dagster" {
  statement {
    sid     = "SubmitWorkerJobs"
    actions = ["batch:SubmitJob", "batch:TagResource"]
    resources = [
      aws_batch_job_queue.gpu.arn,
      "arn:${local.partition}:batch:${local.region}:${local.account}:job-definition/${local.name}-worker",
      "arn:${local.partition}:batch:${local.region}:${local.account}:job-definition/${local.name}-worker:*",
      "arn:${local.partition}:batch:${local.region}:${local.account}:job/*",
    ]
  }

  statement {
    sid       = "StopWorkerJobs"
    actions   = ["batch:TerminateJob", "batch:CancelJob"]
    resources = ["arn:${local.partition}:batch:${local.region}:${local.account}:job/*"]
  }

  # Batch's Describe*/List* actions have no resource-level permissions: AWS requires "*".
  statement {
    sid = "WatchWorkerJobs"
    actions = [
      "batch:DescribeJobs", "batch:ListJobs", "batch:DescribeJobQueues", "batch:DescribeJobDefinitions",
      "batch:DescribeComputeEnvironments",
    ]
    resources = ["*"]
  }

  # The instance type each attempt ran on (cost records): the container instances of the GPU clusters.
  statement {
    sid       = "ReadWorkerHosts"
    actions   = ["ecs:DescribeContainerInstances"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account}:container-instance/*"]
  }

  statement {
    sid       = "ReadWorkerLogs"
    actions   = ["logs:GetLogEvents", "logs:FilterLogEvents", "logs:DescribeLogStreams"]
    resources = [aws_cloudwatch_log_group.worker.arn, "${aws_cloudwatch_log_group.worker.arn}:log-stream:*"]
  }

  statement {
    sid       = "ListStorageRoot"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.key_prefix}*"]
    }
  }

  statement {
    sid       = "ReadWriteStorageRoot"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${local.bucket_arn}/${local.key_prefix}*"]
  }

  statement {
    sid       = "ReadWrdsLogin"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [data.aws_secretsmanager_secret.wrds.arn]
  }
}

resource "aws_iam_role_policy" "dagster" {
  name   = "launch-and-store"
  role   = aws_iam_role.dagster.id
  policy = data.aws_iam_policy_document.dagster.json
}
