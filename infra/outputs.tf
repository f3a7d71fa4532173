# Outputs named in upper case are the Dagster side's environment variables, one output per variable, with the
# value to set. `make aws-env` writes them all to .env.aws; `terraform output -json` lists them.

output "FTM_ENV" {
  description = "FTM_ENV for the Dagster side: binds the S3 storage and the AWS Batch launcher."
  value       = "aws"
}

output "FTM_STORAGE_ROOT" {
  description = "FTM_STORAGE_ROOT: s3://bucket/prefix of every asset's files."
  value       = local.storage_root
}

output "FTM_BATCH_JOB_QUEUE" {
  description = "FTM_BATCH_JOB_QUEUE: the GPU Spot job queue's name."
  value       = aws_batch_job_queue.gpu.name
}

output "FTM_BATCH_JOB_DEFINITION" {
  description = "FTM_BATCH_JOB_DEFINITION: the worker job definition's name (Batch runs its latest active revision)."
  value       = aws_batch_job_definition.worker.name
}

output "FTM_TRANSCRIPT_SOURCE" {
  description = "FTM_TRANSCRIPT_SOURCE: transcripts come from WRDS in production."
  value       = "wrds"
}

output "FTM_MAX_BATCH_JOBS_IN_FLIGHT" {
  description = "FTM_MAX_BATCH_JOBS_IN_FLIGHT: limit of the ftm_batch_gpu pool, equal to the compute environment's cap."
  value       = tostring(var.max_batch_jobs_in_flight)
}

output "AWS_REGION" {
  description = "AWS_REGION for the Dagster side's AWS clients."
  value       = local.region
}

output "FTM_WRDS_USERNAME" {
  description = "FTM_WRDS_USERNAME, as a Secrets Manager reference (ECS task definition `secrets` valueFrom), never the value."
  value       = "${data.aws_secretsmanager_secret.wrds.arn}:username::"
}

output "FTM_WRDS_PASSWORD" {
  description = "FTM_WRDS_PASSWORD, as a Secrets Manager reference (ECS task definition `secrets` valueFrom), never the value."
  value       = "${data.aws_secretsmanager_secret.wrds.arn}:password::"
}

output "ecr_worker_repository_url" {
  description = "ECR repository of the GPU worker image (`make push` reads it)."
  value       = aws_ecr_repository.worker.repository_url
}

output "ecr_dagster_repository_url" {
  description = "ECR repository of the Dagster code location image (`make push` reads it)."
  value       = aws_ecr_repository.dagster.repository_url
}

output "dagster_role_arn" {
  description = "IAM role for the Dagster webserver, daemon and runs (task role of their ECS tasks)."
  value       = aws_iam_role.dagster.arn
}

output "worker_log_group" {
  description = "CloudWatch log group of the worker jobs."
  value       = aws_cloudwatch_log_group.worker.name
}
