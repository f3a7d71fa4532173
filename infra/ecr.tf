# One repository per image. Tags are immutable (each push is a git commit), so a job definition revision always
# runs the image it was registered with; scanning on push reports CVEs of the CUDA/Python stack.
resource "aws_ecr_repository" "worker" {
  name                 = "${local.name}-worker"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_repository" "dagster" {
  name                 = "${local.name}-dagster"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

locals {
  # Keep the last 5 images: enough to roll back a few deploys, while each GPU image is ~15 GB of storage cost.
  # A job definition revision older than the last 5 pushes can no longer start: re-apply with a current tag.
  keep_last_5 = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep only the last 5 images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = 5
      }
      action = { type = "expire" }
    }]
  })
}

resource "aws_ecr_lifecycle_policy" "worker" {
  repository = aws_ecr_repository.worker.name
  policy     = local.keep_last_5
}

resource "aws_ecr_lifecycle_policy" "dagster" {
  repository = aws_ecr_repository.dagster.name
  policy     = local.keep_last_5
}
