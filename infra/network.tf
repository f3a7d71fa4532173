# GPU instances make outbound HTTPS only (ECR, S3, CloudWatch, ECS agent) and accept no inbound traffic.
resource "aws_security_group" "batch" {
  name        = "${local.name}-batch"
  description = "GPU Batch instances: outbound HTTPS only, no inbound"
  vpc_id      = local.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.batch.id
  description       = "HTTPS to AWS APIs (ECR, S3, CloudWatch Logs, ECS)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# IMDSv2 only, hop limit 1: containers cannot reach the instance role's credentials (they get the job role's
# from the ECS agent); the root volume is encrypted and large enough for the GPU image.
resource "aws_launch_template" "gpu" {
  name_prefix = "${local.name}-gpu-"

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.root_volume_size_gib
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }
}
