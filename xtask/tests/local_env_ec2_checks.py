"""Assertions on the local (emulator) environment applied with compute = "ec2".

Run by tests/local_env_ec2.rs with the tools venv's python (boto3 comes with moto there).
argv: endpoint, phase ("applied" or "destroyed"), path of the env file that was applied (the
expected sizes and instance type are read from it), and for "applied" the image that
`cargo xtask deploy` rolled out. Prints one line per check; exits 1 on failure.
"""
import re
import sys

import boto3

endpoint, phase, tfvars = sys.argv[1], sys.argv[2], sys.argv[3]
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
ec2, ecs, elb = boto3.client("ec2", **kw), boto3.client("ecs", **kw), boto3.client("elbv2", **kw)
asg, iam, ssm = boto3.client("autoscaling", **kw), boto3.client("iam", **kw), boto3.client("ssm", **kw)
P = "rdeploy-local"
NAME = f"{P}-ec2"
failures = []

# Top-level scalar settings of the env file (`key = value  # comment`).
env = {}
for line in open(tfvars):
    m = re.match(r'^\s*([a-z0-9_]+)\s*=\s*"?([^"#]*?)"?\s*(#.*)?$', line)
    if m:
        env[m.group(1)] = m.group(2).strip()


def tags(pairs):
    return {t["Key"]: t["Value"] for t in pairs or []}


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


if phase == "applied":
    check(env.get("compute") == "ec2", f"the env file applied says compute = ec2 ({env.get('compute')})")
    private = sorted(s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": [f"{P}-private-*"]}])["Subnets"])
    check(len(private) == 2, f"two private subnets ({private})")

    # Auto Scaling group: sizes from the tfvars, private subnets, scale-in protection.
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[NAME])["AutoScalingGroups"]
    check(len(groups) == 1, f"Auto Scaling group {NAME} exists")
    g = groups[0] if groups else {}
    sizes = (g.get("MinSize"), g.get("MaxSize"), g.get("DesiredCapacity"))
    want = (int(env["ec2_min_size"]), int(env["ec2_max_size"]), int(env["ec2_desired_capacity"]))
    check(sizes == want, f"ASG min/max/desired {sizes} == tfvars {want}")
    check(sorted(g.get("VPCZoneIdentifier", "").split(",")) == private, "ASG runs in the private subnets only")
    check(g.get("NewInstancesProtectedFromScaleIn") is True, "new instances are protected from scale-in (managed termination protection)")
    gtags = {t["Key"]: (t["Value"], t["PropagateAtLaunch"]) for t in g.get("Tags", [])}
    check(gtags.get("Project") == ("rdeploy", True) and gtags.get("Environment") == ("local", True), f"ASG propagates Project/Environment tags ({sorted(gtags)})")
    check(gtags.get("AmazonECSManaged") == ("true", True), "ASG carries AmazonECSManaged")

    # The target-tracking policy on average CPU.
    policies = asg.describe_policies(AutoScalingGroupName=NAME)["ScalingPolicies"]
    tt = [p for p in policies if p["PolicyType"] == "TargetTrackingScaling"]
    check(len(tt) == 1, f"one target-tracking policy ({[p['PolicyName'] for p in policies]})")
    if tt:
        cfg = tt[0]["TargetTrackingConfiguration"]
        check(cfg["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ASGAverageCPUUtilization", "policy tracks ASGAverageCPUUtilization")
        check(cfg["TargetValue"] == 50.0, f"policy target is 50 % ({cfg['TargetValue']})")

    # Launch template: the version the ASG uses.
    lt_ref = g.get("LaunchTemplate", {})
    check(lt_ref.get("LaunchTemplateName") == NAME, f"ASG uses launch template {NAME} ({lt_ref})")
    versions = ec2.describe_launch_template_versions(LaunchTemplateName=NAME, Versions=[lt_ref.get("Version", "$Latest")])["LaunchTemplateVersions"]
    d = versions[0]["LaunchTemplateData"] if versions else {}
    ami = ssm.get_parameter(Name="/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id")["Parameter"]["Value"]
    check(d.get("ImageId") == ami, f"AMI {d.get('ImageId')} is the ECS-optimized AL2023 SSM parameter's value ({ami})")
    check(d.get("InstanceType") == env["ec2_instance_type"], f"instance type {d.get('InstanceType')} from the tfvars")
    md = d.get("MetadataOptions", {})
    check(md.get("HttpTokens") == "required", "IMDSv2 required")
    check(md.get("HttpPutResponseHopLimit") == 1, f"IMDS hop limit 1 ({md.get('HttpPutResponseHopLimit')})")
    check("KeyName" not in d, "no key pair")
    nics = d.get("NetworkInterfaces", [])
    check(len(nics) == 1 and nics[0].get("AssociatePublicIpAddress") is False, "no public IP")
    ebs = [b["Ebs"] for b in d.get("BlockDeviceMappings", []) if b.get("DeviceName") == "/dev/xvda"]
    check(len(ebs) == 1 and ebs[0].get("Encrypted") is True, "root volume /dev/xvda encrypted")
    check(d.get("IamInstanceProfile", {}).get("Arn", "").endswith(f"instance-profile/{NAME}"), "instance profile attached")

    # Instance security group: nothing inbound.
    sg_ids = nics[0].get("Groups", []) if nics else []
    sgs = ec2.describe_security_groups(GroupIds=sg_ids)["SecurityGroups"] if sg_ids else []
    check(len(sgs) == 1 and sgs[0]["IpPermissions"] == [], "instance security group admits nothing")
    egress = [(p.get("IpProtocol"), p.get("FromPort")) for p in sgs[0]["IpPermissionsEgress"]] if sgs else []
    check(egress == [("tcp", 443)], f"instance egress is tcp/443 only ({egress})")

    # Instance role: the ECS agent (inline, this cluster) + Session Manager, nothing else.
    attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=NAME)["AttachedPolicies"]]
    inline = iam.list_role_policies(RoleName=NAME)["PolicyNames"]
    check(attached == ["AmazonSSMManagedInstanceCore"] and inline == ["ecs-agent"], f"instance role: {attached} + {inline}")
    doc = iam.get_role_policy(RoleName=NAME, PolicyName="ecs-agent")["PolicyDocument"]
    actions = sorted({a for s in doc["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])})
    check(all(a.startswith("ecs:") for a in actions) and "ecs:CreateCluster" not in actions, f"instance role: ECS agent actions only ({actions})")

    # Capacity provider: on the ASG, managed scaling and termination protection, on the cluster.
    cps = ecs.describe_capacity_providers(capacityProviders=[NAME])["capacityProviders"]
    check(len(cps) == 1 and cps[0]["status"] == "ACTIVE", f"capacity provider {NAME} is active")
    p = cps[0]["autoScalingGroupProvider"] if cps else {}
    check(p.get("autoScalingGroupArn") == g.get("AutoScalingGroupARN"), "capacity provider is backed by the ASG")
    check(p.get("managedTerminationProtection") == "ENABLED", "managed termination protection")
    check(p.get("managedScaling", {}).get("status") == "ENABLED", "managed scaling")
    if "managedDraining" in p:
        check(p["managedDraining"] == "ENABLED", "managed draining")
    else:
        print("skip managedDraining: the emulator does not return it")
    cluster = ecs.describe_clusters(clusters=[f"{P}-cluster"])["clusters"][0]
    check(cluster.get("capacityProviders") == [NAME], f"capacity provider attached to the cluster ({cluster.get('capacityProviders')})")
    check([s["capacityProvider"] for s in cluster.get("defaultCapacityProviderStrategy", [])] == [NAME], "cluster's default strategy is the capacity provider")

    # The service: unchanged model (awsvpc, no public IP, private subnets, ALB-only SG, same TG).
    svc = ecs.describe_services(cluster=f"{P}-cluster", services=[f"{P}-app"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    check(td["networkMode"] == "awsvpc" and td.get("requiresCompatibilities") == ["EC2"], f"task definition: awsvpc, requires EC2 ({td.get('requiresCompatibilities')})")
    image = sys.argv[4]
    app = [c for c in td["containerDefinitions"] if c["name"] == "app"]
    check(td["revision"] >= 2 and app and app[0]["image"] == image, f"the service runs the deployed revision {td['revision']} with {image}")
    vpc_cfg = svc["networkConfiguration"]["awsvpcConfiguration"]
    check(vpc_cfg.get("assignPublicIp") == "DISABLED" and sorted(vpc_cfg["subnets"]) == private, "tasks: private subnets, no public IP")
    # The target group's name is generated (name_prefix "app-"), so find it through the ALB.
    lb = elb.describe_load_balancers(Names=[f"{P}-alb"])["LoadBalancers"][0]
    tg = elb.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"][0]
    check([lb["targetGroupArn"] for lb in svc["loadBalancers"]] == [tg["TargetGroupArn"]], "service registers in the app target group")
    check(tg["TargetType"] == "ip" and tg["Port"] == 5000, "target group: ip targets on 5000 (awsvpc task ENIs)")
    app_sgs = ec2.describe_security_groups(GroupIds=vpc_cfg["securityGroups"])["SecurityGroups"]
    perms = [pp for s in app_sgs for pp in s["IpPermissions"]]
    check(len(perms) == 1 and perms[0].get("FromPort") == 5000 and perms[0].get("ToPort") == 5000 and not perms[0].get("IpRanges"), "task security group: tcp/5000 from a security group only")
    alb_sgs = elb.describe_load_balancers()["LoadBalancers"][0]["SecurityGroups"]
    check([u["GroupId"] for u in perms[0].get("UserIdGroupPairs", [])] == alb_sgs if perms else False, "that security group is the ALB's")
    if svc.get("capacityProviderStrategy"):
        check([s["capacityProvider"] for s in svc["capacityProviderStrategy"]] == [NAME], "service strategy is the capacity provider")
    else:
        print("skip service capacityProviderStrategy: the emulator does not store it on CreateService (local.ec2.plan-gaps.txt)")
else:
    check(asg.describe_auto_scaling_groups(AutoScalingGroupNames=[NAME])["AutoScalingGroups"] == [], "no Auto Scaling group left")
    lts = [t["LaunchTemplateName"] for t in ec2.describe_launch_templates()["LaunchTemplates"]]
    check(NAME not in lts, f"no launch template left ({lts})")
    cps = ecs.describe_capacity_providers(capacityProviders=[NAME])["capacityProviders"]
    check(all(c["status"] != "ACTIVE" for c in cps), f"no active capacity provider left ({[c['status'] for c in cps]})")
    check(not any(r["RoleName"] == NAME for r in iam.list_roles()["Roles"]), "no instance role left")
    check(not any(p["InstanceProfileName"] == NAME for p in iam.list_instance_profiles()["InstanceProfiles"]), "no instance profile left")
    running = [i for r in ec2.describe_instances(Filters=[{"Name": "tag:Project", "Values": ["rdeploy"]}, {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"] for i in r["Instances"]]
    # Emulator gap: moto's DeleteAutoScalingGroup ignores ForceDelete and leaves instances that
    # are protected from scale-in running (AWS terminates them). Allow exactly those: launched
    # by this ASG (its propagated Name tag), at most its desired capacity.
    strays = [i["InstanceId"] for i in running if tags(i.get("Tags")).get("Name") != NAME]
    check(strays == [], f"no project instance running except the emulator's ForceDelete gap ({strays})")
    check(len(running) <= int(env["ec2_desired_capacity"]), f"at most the ASG's protected instances are left ({len(running)})")
    if running:
        print(f"gap  {len(running)} scale-in-protected ASG instance(s) left running: moto ignores ForceDelete (AWS terminates them)")

sys.exit(1 if failures else 0)
