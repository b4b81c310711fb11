"""Assertions on the local (emulator) environment after `cargo xtask apply --env local`.

Run by tests/local_env.rs with the tools venv's python (boto3 comes with moto there).
argv: endpoint, phase ("applied" or "destroyed"). Prints one line per check; exits 1 on failure.
"""
import sys

import boto3

endpoint, phase = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
ec2, ecr, ecs = boto3.client("ec2", **kw), boto3.client("ecr", **kw), boto3.client("ecs", **kw)
elb, iam, logs = boto3.client("elbv2", **kw), boto3.client("iam", **kw), boto3.client("logs", **kw)
P = "rdeploy-local"
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def tags(pairs):
    return {t["Key"]: t["Value"] for t in pairs or []}


if phase == "applied":
    sgs = {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    app_sg, alb_sg = sgs.get(f"{P}-app"), sgs.get(f"{P}-alb")
    check(app_sg is not None and alb_sg is not None, f"security groups {P}-app and {P}-alb exist")
    if app_sg and alb_sg:
        perms = app_sg["IpPermissions"]
        check(len(perms) == 1, f"app SG has exactly one ingress rule ({len(perms)})")
        p = perms[0] if perms else {}
        check(p.get("FromPort") == 5000 and p.get("ToPort") == 5000 and p.get("IpProtocol") == "tcp", "app SG admits tcp/5000 only")
        sources = [u["GroupId"] for u in p.get("UserIdGroupPairs", [])]
        check(sources == [alb_sg["GroupId"]] and not p.get("IpRanges") and not p.get("Ipv6Ranges"), "app SG source is only the ALB's SG")
        alb_ports = sorted(x.get("FromPort") for x in alb_sg["IpPermissions"])
        check(alb_ports == [80, 443], f"ALB SG open on 80/443 only ({alb_ports})")

    repo = ecr.describe_repositories(repositoryNames=[f"{P}-app"])["repositories"][0]
    check(repo["imageTagMutability"] == "IMMUTABLE", "ECR tags are immutable")
    check(repo["imageScanningConfiguration"]["scanOnPush"] is True, "ECR scans on push")
    rtags = tags(ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"])
    check(rtags.get("Project") == "rdeploy" and rtags.get("Environment") == "local" and rtags.get("ManagedBy") == "terraform", f"ECR tags {rtags}")

    tg = elb.describe_target_groups(Names=[f"{P}-app"])["TargetGroups"][0]
    check(tg["HealthCheckPath"] == "/health" and tg["Port"] == 5000 and tg["TargetType"] == "ip", "target group: ip:5000, health check /health")
    attrs = {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])["Attributes"]}
    check(attrs.get("deregistration_delay.timeout_seconds") == "30", "deregistration delay 30 s")

    svc = ecs.describe_services(cluster=f"{P}-cluster", services=[f"{P}-app"])["services"][0]
    check(svc["status"] == "ACTIVE", "ECS service rdeploy-local-app is active in rdeploy-local-cluster")
    # moto 5.2.1 does not return deploymentConfiguration; Terraform's own plan covers it there.
    dc = svc.get("deploymentConfiguration")
    if dc is None:
        print("skip deploymentConfiguration: the emulator does not return it")
    else:
        check(dc["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}, "circuit breaker with rollback")
        check(dc["minimumHealthyPercent"] >= 100 and dc["maximumPercent"] >= 200, "zero-downtime percents")
    vpc_cfg = svc.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
    check(vpc_cfg.get("assignPublicIp") == "DISABLED", "tasks get no public IP")
    private = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": [f"{P}-private-*"]}])["Subnets"]]
    check(sorted(vpc_cfg.get("subnets", [])) == sorted(private) and len(private) == 2, "service runs in the two private subnets")
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"], include=["TAGS"])
    c = td["taskDefinition"]["containerDefinitions"][0]
    check(c["name"] == "app" and c["readonlyRootFilesystem"] is True and c.get("user") not in (None, "", "0", "root"), "container: read-only root fs, non-root user")
    check("healthcheck" in c.get("healthCheck", {}).get("command", []), "container health check runs `app healthcheck`")

    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Project", "Values": ["rdeploy"]}])["Vpcs"]
    check(len(vpcs) == 1 and tags(vpcs[0]["Tags"]).get("Name", "").startswith(P), "one VPC, named for the project and environment")
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}])["Subnets"]
    check(len({s["AvailabilityZone"] for s in subnets}) == 2 and len(subnets) == 4, "2 public + 2 private subnets across two AZs")
    for s in subnets:
        t = tags(s["Tags"])
        check(t.get("Name", "").startswith(f"{P}-") and t.get("ManagedBy") == "terraform", f"subnet {t.get('Name')} named and tagged")
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(P)]
    check(all(r.startswith(f"{P}-") for r in roles) and len(roles) >= 4, f"IAM roles follow the convention: {roles}")
else:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Project", "Values": ["rdeploy"]}])["Vpcs"]
    check(vpcs == [], "no project VPC left")
    check(ecr.describe_repositories()["repositories"] == [], "no ECR repository left")
    check(elb.describe_load_balancers()["LoadBalancers"] == [], "no load balancer left")
    clusters = [c for c in ecs.list_clusters()["clusterArns"]]
    active = [c["clusterName"] for c in ecs.describe_clusters(clusters=clusters)["clusters"] if c["status"] == "ACTIVE"] if clusters else []
    check(active == [], f"no active ECS cluster left {active}")
    check([r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(P)] == [], "no project IAM role left")
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"] if P in g["logGroupName"]]
    check(groups == [], f"no project log group left {groups}")

sys.exit(1 if failures else 0)
