# Only the cluster lives in the core layer: it outlives every service and deploy. Services,
# task definitions and their roles are in the `ecs-service` module (app layer).
resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights
  }

  tags = merge(var.tags, { Name = var.name })
}
