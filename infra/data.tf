data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

# The storage bucket exists already (it holds data older than this root); Terraform only reads it.
data "aws_s3_bucket" "storage" {
  bucket = var.s3_bucket_name
}

# Created out of band (README, Deployment) so the WRDS password never enters Terraform state. Only the
# Dagster side reads it: the worker reads prefetched transcripts from S3 and never connects to WRDS.
data "aws_secretsmanager_secret" "wrds" {
  name = var.wrds_secret_name
}

# Looked up only when no vpc_id is given, so accounts without a default VPC can still apply.
data "aws_vpc" "default" {
  count   = var.vpc_id == null ? 1 : 0
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [local.vpc_id]
  }

  filter {
    name   = "default-for-az"
    values = ["true"]
  }
}
