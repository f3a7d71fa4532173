locals {
  name      = var.name_prefix
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id

  bucket_arn = data.aws_s3_bucket.storage.arn
  # "ftm" -> "ftm/", "" -> "": every key the code writes starts with this (ftm_assets/storage/layout.py).
  key_prefix   = var.s3_prefix == "" ? "" : "${var.s3_prefix}/"
  storage_root = "s3://${var.s3_bucket_name}${var.s3_prefix == "" ? "" : "/${var.s3_prefix}"}"

  vpc_id     = var.vpc_id != null ? var.vpc_id : data.aws_vpc.default[0].id
  subnet_ids = length(var.subnet_ids) > 0 ? var.subnet_ids : data.aws_subnets.default.ids

  # The Batch queue never holds more GPU jobs running than Dagster's pool lets in flight.
  max_vcpus = var.max_batch_jobs_in_flight * var.job_vcpus

  worker_image = "${aws_ecr_repository.worker.repository_url}:${var.image_tag}"
}
