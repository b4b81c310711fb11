"""Assertions on the local (emulator) environment after `cargo xtask apply --env local`.

Run by tests/local_env.rs with the tools venv's python (boto3 comes with moto there).
argv: endpoint, phase, phase arguments. Prints one line per check; exits 1 on failure.
  applied <alarms.json>            the stack after apply (alarms: the names in Terraform's state)
  destroyed                        nothing left after destroy
  assume-deploy-role               AssumeRoleWithWebIdentity for the GitHub deploy role (moto
                                   checks no token), print its credentials as JSON, then switch
                                   IAM enforcement on (after: the unsigned call would fail)
  as-deploy-role <creds.json>      enforcement is on: the role is refused what it was not
                                   granted; then switch enforcement off again
  deployed <memory> <image>        the service runs a revision with that memory and image
"""
import urllib.request
import json
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


def reset_auth(count):
    # moto: the first <count> requests after this are not authenticated ("0": enforce now).
    req = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(), method="POST", headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req).read()


def check_database(sgs, td):
    """The database (database_enabled = true in local.tfvars): credentials only through the task
    definition's secrets, TLS forced, backups on, and the security-group rule pair."""
    rds, sm = boto3.client("rds", **kw), boto3.client("secretsmanager", **kw)
    db = rds.describe_db_instances(DBInstanceIdentifier=f"{P}-db")["DBInstances"][0]
    secret_arn = (db.get("MasterUserSecret") or {}).get("SecretArn")
    check(bool(secret_arn), f"RDS manages the master password in Secrets Manager ({secret_arn})")
    check(db["BackupRetentionPeriod"] > 0 and db["StorageEncrypted"] and not db["PubliclyAccessible"], f"database: backups on ({db['BackupRetentionPeriod']} days), encrypted, private")
    groups = [g["DBParameterGroupName"] for g in db.get("DBParameterGroups", [])]
    check(len(groups) == 1 and groups[0].startswith(f"{P}-db-"), f"database uses its own parameter group ({groups})")
    if groups:
        params = {p["ParameterName"]: p.get("ParameterValue") for p in rds.describe_db_parameters(DBParameterGroupName=groups[0], Source="user")["Parameters"]}
        check(params.get("rds.force_ssl") == "1", f"rds.force_ssl = 1: the server refuses connections without TLS ({params})")
    if not secret_arn:
        return
    check(sm.describe_secret(SecretId=secret_arn)["ARN"] == secret_arn, "the master secret exists")
    password = json.loads(sm.get_secret_value(SecretId=secret_arn)["SecretString"])["password"]

    def policy_statements(role):
        statements = []
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            doc = json.loads(doc) if isinstance(doc, str) else doc
            statements += doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
        return statements

    def as_list(v):
        return v if isinstance(v, list) else [v]

    def secret_reads(statements):
        reads = [st for st in statements if any(str(a).startswith("secretsmanager:") or a == "*" for a in as_list(st["Action"]))]
        return reads, [r for st in reads for r in as_list(st["Resource"])]

    # The serving task definition (#24): no secret, the app role with IAM tokens.
    app = next(c for c in td["containerDefinitions"] if c["name"] == "app")
    check(not app.get("secrets"), f"the serving task definition has no secrets ({app.get('secrets')})")
    env = {e["name"]: e["value"] for e in app.get("environment", [])}
    check(env.get("DB_HOST") == db["Endpoint"]["Address"] and env.get("DB_PORT") == str(db["Endpoint"]["Port"]) and env.get("DB_NAME") == db["DBName"], f"DB_HOST/DB_PORT/DB_NAME point at the instance ({env.get('DB_HOST')}:{env.get('DB_PORT')}/{env.get('DB_NAME')})")
    check(env.get("DB_SSLMODE") == "verify-full" and "DB_SSLROOTCERT" not in env, f"DB_SSLMODE=verify-full with the app's built-in RDS bundle ({env.get('DB_SSLMODE')}, DB_SSLROOTCERT={env.get('DB_SSLROOTCERT')})")
    check(env.get("DB_AUTH") == "iam" and env.get("DB_USERNAME") == "guestbook_app" and env.get("AWS_REGION"), f"the serving tasks log in as guestbook_app with IAM tokens ({env.get('DB_AUTH')}, {env.get('DB_USERNAME')}, {env.get('AWS_REGION')})")
    check(not {"DB_PASSWORD", "DB_PASSWORD_FILE", "DATABASE_URL"} & set(env), f"no password and no DATABASE_URL in the plain environment ({sorted(env)})")
    check(password not in json.dumps(td), "the password appears nowhere in the serving task definition")
    reads, resources = secret_reads(policy_statements(td["executionRoleArn"].split("/")[-1]))
    check(not reads, f"the serving execution role reads no secret ({resources})")
    task_statements = policy_statements(td["taskRoleArn"].split("/")[-1])
    user_arn = f"arn:aws:rds-db:{db['DBInstanceArn'].split(':')[3]}:{db['DBInstanceArn'].split(':')[4]}:dbuser:{db['DbiResourceId']}/guestbook_app"
    check([(as_list(st["Action"]), as_list(st["Resource"])) for st in task_statements] == [(["rds-db:connect"], [user_arn])], f"task role: rds-db:connect as guestbook_app on this instance only ({task_statements})")

    # The migration task definition: the master secret, read by its own execution role.
    mtd = ecs.describe_task_definition(taskDefinition=f"{P}-app-migrate")["taskDefinition"]
    mapp = next(c for c in mtd["containerDefinitions"] if c["name"] == "app")
    secrets = {x["name"]: x["valueFrom"] for x in mapp.get("secrets", [])}
    check(secrets == {"DB_USERNAME": f"{secret_arn}:username::", "DB_PASSWORD": f"{secret_arn}:password::"}, f"the migration task definition's secrets reference the master secret ({secrets})")
    check(mapp.get("command") == ["migrate"], f"the migration task runs `app migrate` ({mapp.get('command')})")
    check(password not in json.dumps(mtd), "the password appears nowhere in the migration task definition")
    reads, resources = secret_reads(policy_statements(mtd["executionRoleArn"].split("/")[-1]))
    check(resources == [secret_arn] and all(st["Action"] in ("secretsmanager:GetSecretValue", ["secretsmanager:GetSecretValue"]) for st in reads), f"migration execution role: GetSecretValue on the master secret only ({resources})")

    db_sg = sgs.get(f"{P}-db")
    app_sg = sgs.get(f"{P}-app")
    check(db_sg is not None and [g["GroupId"] for g in db_sg_groups(db)] == [db_sg["GroupId"]], "the instance is in the security group tagged rdeploy-local-db")
    if db_sg and app_sg:
        ingress = db_sg["IpPermissions"]
        check(len(ingress) == 1 and ingress[0].get("IpProtocol") == "tcp" and ingress[0].get("FromPort") == 5432 and ingress[0].get("ToPort") == 5432, f"DB SG: exactly one ingress rule, tcp/5432 ({ingress})")
        sources = [u["GroupId"] for p in ingress for u in p.get("UserIdGroupPairs", [])]
        cidrs = [r for p in ingress for r in p.get("IpRanges", []) + p.get("Ipv6Ranges", []) + p.get("PrefixListIds", [])]
        check(sources == [app_sg["GroupId"]] and not cidrs, f"DB SG admits 5432 only from the app's SG ({sources}, cidrs {cidrs})")
        egress = app_sg["IpPermissionsEgress"]
        to_db = [p for p in egress if any(u["GroupId"] == db_sg["GroupId"] for u in p.get("UserIdGroupPairs", []))]
        check(len(to_db) == 1 and to_db[0].get("FromPort") == 5432 and to_db[0].get("ToPort") == 5432, f"app SG egress: tcp/5432 to the DB SG ({to_db})")
        cidr_5432 = [p for p in egress if (p.get("IpRanges") or p.get("Ipv6Ranges")) and (p.get("IpProtocol") == "-1" or p.get("FromPort", 0) <= 5432 <= p.get("ToPort", 65535))]
        check(cidr_5432 == [], f"no CIDR egress rule of the app SG covers 5432 ({cidr_5432})")


def db_sg_groups(db):
    return [{"GroupId": g["VpcSecurityGroupId"]} for g in db.get("VpcSecurityGroups", [])]


if phase == "assume-deploy-role":
    sts = boto3.client("sts", **kw)
    role = f"arn:aws:iam::123456789012:role/{P}-github-deploy"
    c = sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="local-e2e", WebIdentityToken="not-checked-by-the-emulator")["Credentials"]
    reset_auth("0")
    print(json.dumps({"AWS_ACCESS_KEY_ID": c["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"], "AWS_SESSION_TOKEN": c["SessionToken"]}))
    sys.exit(0)

if phase == "as-deploy-role":
    c = json.loads(open(sys.argv[3]).read())
    role_kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=c["AWS_ACCESS_KEY_ID"], aws_secret_access_key=c["AWS_SECRET_ACCESS_KEY"], aws_session_token=c["AWS_SESSION_TOKEN"])
    try:
        boto3.client("ecs", **role_kw).delete_service(cluster=f"{P}-cluster", service=f"{P}-app", force=True)
        check(False, "IAM enforcement is on: the deploy role may not delete the service")
    except Exception as e:  # botocore ClientError AccessDenied
        check("AccessDenied" in str(e) or "not authorized" in str(e), f"IAM enforcement is on: the deploy role may not delete the service ({str(e)[:80]})")
    reset_auth("inf")
    sys.exit(1 if failures else 0)

if phase == "deployed":
    memory, image = sys.argv[3], sys.argv[4]
    svc = ecs.describe_services(cluster=f"{P}-cluster", services=[f"{P}-app"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    app = next(c for c in td["containerDefinitions"] if c["name"] == "app")
    check(td["memory"] == memory, f"the service's revision {td['revision']} has Terraform's new memory {memory} ({td['memory']})")
    check(app["image"] == image, f"... and the deployed image ({app['image']})")
    env = {e["name"]: e["value"] for e in app.get("environment", [])}
    check(env.get("TRUSTED_PROXY_HOPS") == "1", "... and Terraform's environment (TRUSTED_PROXY_HOPS=1)")
    check(not app.get("secrets") and env.get("DB_AUTH") == "iam", f"... and no secrets, DB_AUTH=iam: Terraform's, copied by the deploy ({app.get('secrets')}, {env.get('DB_AUTH')})")
    sys.exit(1 if failures else 0)

if phase == "applied":
    # Security groups have generated names (name_prefix, so a replacement never collides); the
    # Name tag carries the convention.
    sgs = {tags(g.get("Tags")).get("Name"): g for g in ec2.describe_security_groups()["SecurityGroups"]}
    app_sg, alb_sg = sgs.get(f"{P}-app"), sgs.get(f"{P}-alb")
    check(app_sg is not None and alb_sg is not None, f"security groups tagged {P}-app and {P}-alb exist")
    if app_sg and alb_sg:
        check(app_sg["GroupName"].startswith(f"{P}-app-") and alb_sg["GroupName"].startswith(f"{P}-alb-"), f"security group names are generated from a prefix ({app_sg['GroupName']}, {alb_sg['GroupName']})")
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

    lb = elb.describe_load_balancers(Names=[f"{P}-alb"])["LoadBalancers"][0]
    lb_attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    check(lb_attrs.get("routing.http.xff_header_processing.mode") == "append", f"ALB X-Forwarded-For mode is append ({lb_attrs.get('routing.http.xff_header_processing.mode')})")
    tgs = elb.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]
    check(len(tgs) == 1 and tgs[0]["TargetGroupName"].startswith("app-"), f"one target group, name generated from the prefix app- ({[t['TargetGroupName'] for t in tgs]})")
    tg = tgs[0]
    tg_tags = tags(elb.describe_tags(ResourceArns=[tg["TargetGroupArn"]])["TagDescriptions"][0]["Tags"])
    check(tg_tags.get("Name") == f"{P}-app", f"target group tagged Name={P}-app ({tg_tags.get('Name')})")
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
    env = {e["name"]: e["value"] for e in c.get("environment", [])}
    check(env.get("TRUSTED_PROXY_HOPS") == "1", f"TRUSTED_PROXY_HOPS=1 behind the ALB ({env.get('TRUSTED_PROXY_HOPS')})")

    cw, sns, kms = boto3.client("cloudwatch", **kw), boto3.client("sns", **kw), boto3.client("kms", **kw)
    alarms = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNamePrefix=P)["MetricAlarms"]}
    for name in (f"{P}-no-healthy-targets", f"{P}-tasks-below-desired"):
        a = alarms.get(name, {})
        check(a.get("TreatMissingData") == "breaching", f"alarm {name} exists and treats missing data as breaching ({a.get('TreatMissingData')})")
    topic = next((t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(f":{P}-alarms")), None)
    key_id = sns.get_topic_attributes(TopicArn=topic)["Attributes"].get("KmsMasterKeyId") if topic else None
    check(bool(key_id), f"alarm topic is encrypted with a KMS key ({key_id})")
    if key_id:
        policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        cw_ok = any(st.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com" and "kms:GenerateDataKey*" in st.get("Action", []) for st in policy["Statement"])
        check(cw_ok, "the topic's key policy lets CloudWatch publish (kms:GenerateDataKey*, kms:Decrypt)")
    expected = set(json.loads(sys.argv[3]))
    check(set(alarms) == expected, f"the alarms are the {len(expected)} in Terraform's state (extra {sorted(set(alarms) - expected)}, missing {sorted(expected - set(alarms))})")
    quiet = sorted(n for n, a in alarms.items() if a.get("AlarmActions") != [topic])
    check(not quiet, f"all {len(alarms)} alarms notify the topic (not: {quiet})")

    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Project", "Values": ["rdeploy"]}])["Vpcs"]
    check(len(vpcs) == 1 and tags(vpcs[0]["Tags"]).get("Name", "").startswith(P), "one VPC, named for the project and environment")
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}])["Subnets"]
    check(len({s["AvailabilityZone"] for s in subnets}) == 2 and len(subnets) == 4, "2 public + 2 private subnets across two AZs")
    for s in subnets:
        t = tags(s["Tags"])
        check(t.get("Name", "").startswith(f"{P}-") and t.get("ManagedBy") == "terraform", f"subnet {t.get('Name')} named and tagged")
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(P)]
    check(all(r.startswith(f"{P}-") for r in roles) and len(roles) >= 4, f"IAM roles follow the convention: {roles}")
    check_database(sgs, td["taskDefinition"])
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
    dbs = [d["DBInstanceIdentifier"] for d in boto3.client("rds", **kw).describe_db_instances()["DBInstances"]]
    check(dbs == [], f"no database instance left {dbs}")

sys.exit(1 if failures else 0)
