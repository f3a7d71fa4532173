variable "aws_region" {
  type        = string
  description = "AWS region for every resource; the Dagster side gets it as AWS_REGION."
  default     = "us-east-1"
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name (queue, job definition, roles, repositories, log group)."
  default     = "ftm"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix must be 2-21 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "s3_bucket_name" {
  type        = string
  description = "Existing S3 bucket that holds the storage root (created and owned outside this root)."
}

variable "s3_prefix" {
  type        = string
  description = "Key prefix of the storage root inside the bucket, without slashes at either end; empty for the bucket root."
  default     = "ftm"

  validation {
    condition     = !startswith(var.s3_prefix, "/") && !endswith(var.s3_prefix, "/")
    error_message = "s3_prefix must not start or end with a slash (e.g. \"ftm\" or \"research/ftm\")."
  }
}

variable "wrds_secret_name" {
  type        = string
  description = "Name of the Secrets Manager secret with the WRDS login, JSON {\"username\": ..., \"password\": ...}, created out of band so the password never enters Terraform state."
  default     = "ftm/wrds"
}

variable "image_tag" {
  type        = string
  description = "Tag of the worker image in ECR that the job definition runs (tags are immutable: use the git commit, as `make push` does)."
}

variable "instance_types" {
  type        = list(string)
  description = "GPU instance types for the Spot compute environment; each must have one GPU and at least job_vcpus vCPUs and job_memory_mib memory."
  default     = ["g4dn.xlarge", "g5.xlarge"]
}

variable "max_batch_jobs_in_flight" {
  type        = number
  description = "Most GPU jobs running at once. Caps the compute environment (max vCPUs) and Dagster's ftm_batch_gpu pool."
  default     = 5

  validation {
    condition     = var.max_batch_jobs_in_flight >= 1 && var.max_batch_jobs_in_flight <= 100
    error_message = "max_batch_jobs_in_flight must be between 1 and 100."
  }
}

variable "job_vcpus" {
  type        = number
  description = "vCPUs reserved by one worker job."
  default     = 4
}

variable "job_memory_mib" {
  type        = number
  description = "Memory reserved by one worker job, in MiB (14 GB ran the seed's largest firms)."
  default     = 14336
}

variable "job_timeout_seconds" {
  type        = number
  description = "Longest one attempt of a worker job may run before Batch stops it (5 hours, the seed's setting)."
  default     = 18000
}

variable "job_attempts" {
  type        = number
  description = "Attempts per job; only host and Spot terminations are retried, application errors exit at once."
  default     = 3

  validation {
    condition     = var.job_attempts >= 1 && var.job_attempts <= 10
    error_message = "job_attempts must be between 1 and 10 (AWS Batch's range)."
  }
}

variable "root_volume_size_gib" {
  type        = number
  description = "Root EBS volume of each GPU instance, in GiB: the worker image (CUDA, cuML, torch) is about 15 GB."
  default     = 100
}

variable "log_retention_days" {
  type        = number
  description = "Days the worker's CloudWatch logs are kept."
  default     = 365
}

variable "vpc_id" {
  type        = string
  description = "VPC for the GPU instances; null uses the account's default VPC (public subnets, no NAT gateway cost)."
  default     = null
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets for the GPU instances; empty uses every default subnet of the VPC. They need a route to ECR, S3 and CloudWatch."
  default     = []
}
