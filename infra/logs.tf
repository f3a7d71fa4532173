# The worker's logs (awslogs driver). Encrypted with a key of our own, rotated yearly.
resource "aws_cloudwatch_log_group" "worker" {
  name              = "/aws/batch/${local.name}-worker"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
}

resource "aws_kms_key" "logs" {
  description             = "${local.name}: encrypts the worker's CloudWatch logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.logs_key.json
}

resource "aws_kms_alias" "logs" {
  name          = "alias/${local.name}-logs"
  target_key_id = aws_kms_key.logs.key_id
}

# A key policy's resource is always "*" (it means this key, AWS requires it). The account administers the key
# with AWS's key-administrator actions (no kms:*), and CloudWatch Logs may use it only for this log group.
data "aws_iam_policy_document" "logs_key" {
  #checkov:skip=CKV_AWS_109:A key policy's resource must be "*" (this key); administration is limited to the account.
  #checkov:skip=CKV_AWS_111:A key policy's resource must be "*" (this key); the logs service is limited by the log group's ARN.
  #checkov:skip=CKV_AWS_356:A key policy's resource must be "*", which AWS reads as this key only.
  statement {
    sid = "AccountAdministersKey"
    actions = [
      "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
      "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
      "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsUsesKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/batch/${local.name}-worker"]
    }
  }
}
