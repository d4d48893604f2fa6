// Package gocompat drives this service with the Open Telekom Cloud Go SDK (gophertelekomcloud), unchanged,
// the way the Terraform provider (terraform-provider-opentelekomcloud) drives it:
//
//   - provider configuration with user name + password: a project-scoped client (HwClient) and a
//     domain-scoped client (DomainClient) are both authenticated, and configuration stops if either fails
//     (opentelekomcloud/common/cfg/config.go: buildClientByPassword, genClients, genClient);
//   - the DDS client is openstack.NewDDSServiceV3 (catalog type "ddsv3") with the resource's region
//     (cfg.Config.DdsV3Client(config.GetRegion(d)));
//   - opentelekomcloud_dds_instance_v3: Create, wait (instances.List by id), set the backup policy
//     (the POST has no period), Read (List + GetBackupPolicy), Delete, wait until gone;
//   - opentelekomcloud_dds_backup_v3: Create, wait for the job, Read (List by backup id), Delete, wait
//     for the job.
//
// Environment (the test is skipped when DDS_GO_AUTH_URL, DDS_GO_USER, DDS_GO_PASSWORD or DDS_GO_PROJECT
// is missing):
//
//	DDS_GO_AUTH_URL  the provider's auth_url (service root, .../v3 or .../identity/v3)
//	DDS_GO_USER      user_name
//	DDS_GO_PASSWORD  password
//	DDS_GO_PROJECT   tenant_name (project name)
//	DDS_GO_DOMAIN    domain_name (default "Default")
//	DDS_GO_REGION    the resources' `region` argument (default: none, so the region is the provider's:
//	                 the project name up to its first "_", as gophertelekomcloud derives it after login)
//	DDS_GO_EXPECT_REGION  the region that derivation must give (default "local-1", the service's DDS_REGION)
//	DDS_GO_AZ        availability_zone (default: the first "normal" zone of the chosen flavor's az_status)
//
// Deviations from the provider, all about time or TLS, none about requests:
//   - ssl: the resource's default is true (ssl_option "1"); the service does not serve TLS yet, so the
//     configuration here says ssl = false (ssl_option "0"), as a Terraform user would have to.
//   - waits: the provider's StateChangeConf waits use Delay 15 s / MinTimeout 10 s (instances) and
//     Delay 10 s / PollInterval 10 s (jobs). Here the same refresh functions, pending and target states
//     are used with those times scaled by DDS_GO_TIME_SCALE (default 0.2: first poll after 3 s / 2 s,
//     then every 2 s), so a run stays well under a minute while, as with the provider, a state that
//     lasts less than the delay is never seen. DDS_GO_TIME_SCALE=0 polls at once and every 200 ms:
//     stricter than Terraform (it also sees short intermediate states).
package gocompat

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	golangsdk "github.com/opentelekomcloud/gophertelekomcloud"
	"github.com/opentelekomcloud/gophertelekomcloud/openstack"
	"github.com/opentelekomcloud/gophertelekomcloud/openstack/common/tags"
	"github.com/opentelekomcloud/gophertelekomcloud/openstack/dds/v3/backups"
	"github.com/opentelekomcloud/gophertelekomcloud/openstack/dds/v3/flavors"
	"github.com/opentelekomcloud/gophertelekomcloud/openstack/dds/v3/instances"
	"github.com/opentelekomcloud/gophertelekomcloud/openstack/dds/v3/job"
)

const (
	minPoll     = 200 * time.Millisecond
	waitTimeout = 45 * time.Second
	// What a Terraform configuration would contain (UUIDs: the provider validates vpc_id, subnet_id and
	// security_group_id with validation.IsUUID).
	vpcID           = "674e9b42-cd8d-4d25-a2e6-5abcc565b961"
	subnetID        = "f1df08c5-71d1-406a-aff0-de435a51007b"
	securityGroupID = "7aa51dbf-5b63-40db-9724-dad3c4828b58"
	dbPassword      = "5ecurePa55w0rd@"
)

type settings struct {
	authURL, user, password, project, domain, region, az string
}

// timeScale scales the provider's wait delays and poll intervals (see the package comment).
var timeScale = 0.2

func scaled(d time.Duration) time.Duration {
	if v := time.Duration(float64(d) * timeScale); v > minPoll {
		return v
	}
	return minPoll
}

func load(t *testing.T) settings {
	t.Helper()
	s := settings{
		authURL:  os.Getenv("DDS_GO_AUTH_URL"),
		user:     os.Getenv("DDS_GO_USER"),
		password: os.Getenv("DDS_GO_PASSWORD"),
		project:  os.Getenv("DDS_GO_PROJECT"),
		domain:   os.Getenv("DDS_GO_DOMAIN"),
		region:   os.Getenv("DDS_GO_REGION"),
		az:       os.Getenv("DDS_GO_AZ"),
	}
	if s.authURL == "" || s.user == "" || s.password == "" || s.project == "" {
		t.Skip("set DDS_GO_AUTH_URL, DDS_GO_USER, DDS_GO_PASSWORD and DDS_GO_PROJECT to run against a service")
	}
	if s.domain == "" {
		s.domain = "Default"
	}
	if v := os.Getenv("DDS_GO_TIME_SCALE"); v != "" {
		if _, err := fmt.Sscanf(v, "%g", &timeScale); err != nil || timeScale < 0 {
			t.Fatalf("DDS_GO_TIME_SCALE=%q: want a number >= 0", v)
		}
	}
	return s
}

// wire logs every request the SDK makes (method, URL, status; the body of any non-2xx answer), so a
// failure names the exact exchange. Request bodies are not logged: they carry passwords.
type wire struct {
	t    *testing.T
	next http.RoundTripper
}

func (w wire) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := w.next.RoundTrip(req)
	if err != nil {
		w.t.Logf("HTTP %s %s -> error %v", req.Method, req.URL, err)
		return resp, err
	}
	if resp.StatusCode >= 300 {
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(strings.NewReader(string(body)))
		w.t.Logf("HTTP %s %s -> %d %s", req.Method, req.URL, resp.StatusCode, truncate(string(body), 600))
	} else {
		w.t.Logf("HTTP %s %s -> %d", req.Method, req.URL, resp.StatusCode)
	}
	return resp, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// genClient is the provider's cfg.Config.genClient: NewClient(auth_url), its own HTTP client, Authenticate.
func genClient(t *testing.T, ao golangsdk.AuthOptions) (*golangsdk.ProviderClient, error) {
	client, err := openstack.NewClient(ao.GetIdentityEndpoint())
	if err != nil {
		return nil, err
	}
	client.UserAgent.Prepend("terraform-provider-opentelekomcloud-compat")
	client.HTTPClient = http.Client{
		Transport: wire{t: t, next: &http.Transport{Proxy: nil}},
		Timeout:   30 * time.Second,
	}
	if err := openstack.Authenticate(client, ao); err != nil {
		return nil, err
	}
	return client, nil
}

// config is the part of the provider's cfg.Config the DDS resources use.
type config struct {
	hwClient, domainClient *golangsdk.ProviderClient
	region, tenantName     string
}

// getRegion is cfg.Config.GetRegion: the resource's `region`, else the provider's region (which
// genClient overwrote with the last client's RegionID), else the project name up to "_".
func (c *config) getRegion(resourceRegion string) string {
	if resourceRegion != "" {
		return resourceRegion
	}
	if c.region != "" {
		return c.region
	}
	return strings.Split(c.tenantName, "_")[0]
}

// ddsV3Client is cfg.Config.DdsV3Client.
func (c *config) ddsV3Client(region string) (*golangsdk.ServiceClient, error) {
	return openstack.NewDDSServiceV3(c.hwClient, golangsdk.EndpointOpts{
		Region:       region,
		Availability: golangsdk.AvailabilityPublic,
	})
}

// buildClientByPassword + genClients of the provider: project client first, then domain client.
func authenticate(t *testing.T, s settings) (*config, error) {
	pao := golangsdk.AuthOptions{DomainName: s.domain, TenantName: s.project}
	dao := golangsdk.AuthOptions{DomainName: s.domain}
	for _, ao := range []*golangsdk.AuthOptions{&pao, &dao} {
		ao.IdentityEndpoint = s.authURL
		ao.Password = s.password
		ao.Username = s.user
	}
	c := &config{tenantName: s.project}
	t.Log("SDK: openstack.Authenticate (project scope: password, scope.project.name + domain.name)")
	client, err := genClient(t, pao)
	if err != nil {
		return nil, fmt.Errorf("error generating project client: %w", err)
	}
	c.hwClient, c.region = client, client.RegionID
	t.Log("SDK: openstack.Authenticate (domain scope: password, scope.domain.name)")
	client, err = genClient(t, dao)
	if err != nil {
		return nil, fmt.Errorf("error generating domain client: %w", err)
	}
	c.domainClient, c.region = client, client.RegionID
	return c, nil
}

// waitFor mimics resource.StateChangeConf: after `delay`, refresh every `every` until a target state;
// a state that is neither pending nor target is an error, as in the provider. delay and every are the
// provider's values, scaled.
func waitFor(t *testing.T, what string, delay, every time.Duration, pending, target []string,
	refresh func() (interface{}, string, error)) (interface{}, error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	if timeScale > 0 {
		time.Sleep(scaled(delay))
	}
	last := ""
	for {
		res, state, err := refresh()
		if err != nil {
			return nil, fmt.Errorf("waiting for %s: %w", what, err)
		}
		if state != last {
			t.Logf("%s: state %q", what, state)
			last = state
		}
		if contains(target, state) {
			return res, nil
		}
		if !contains(pending, state) {
			return nil, fmt.Errorf("waiting for %s: unexpected state %q, wanted target %v", what, state, target)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("waiting for %s: timeout after %s (last state %q)", what, waitTimeout, state)
		}
		time.Sleep(scaled(every))
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// instanceStateRefreshFunc is the provider's (services/dds/resource_opentelekomcloud_dds_instance_v3.go).
func instanceStateRefreshFunc(client *golangsdk.ServiceClient, instanceID string) func() (interface{}, string, error) {
	return func() (interface{}, string, error) {
		list, err := instances.List(client, instances.ListInstanceOpts{Id: instanceID})
		if err != nil {
			return nil, "", err
		}
		if list.TotalCount == 0 || len(list.Instances) == 0 {
			return instances.InstanceResponse{}, "deleted", nil
		}
		status := list.Instances[0].Status
		if status == "normal" && len(list.Instances[0].Actions) > 0 {
			status = "updating"
		}
		return list.Instances[0], status, nil
	}
}

// jobStateRefreshFunc is the provider's JobStateRefreshFunc.
func jobStateRefreshFunc(client *golangsdk.ServiceClient, jobID string) func() (interface{}, string, error) {
	return func() (interface{}, string, error) {
		resp, err := job.Get(client, jobID)
		if err != nil {
			return nil, "", err
		}
		return resp, resp.Status, nil
	}
}

// retryable is the provider's handleMultiOperationsError: these DDS codes mean "another operation is
// running, try again once the instance is normal".
func retryable(err error) bool {
	var body []byte
	var e400 golangsdk.ErrDefault400
	var e403 golangsdk.ErrDefault403
	switch {
	case errors.As(err, &e400):
		body = e400.Body
	case errors.As(err, &e403):
		body = e403.Body
	default:
		return false
	}
	var parsed struct {
		ErrorCode string `json:"error_code"`
	}
	if json.Unmarshal(body, &parsed) != nil {
		return false
	}
	switch parsed.ErrorCode {
	case "DBS.200019", "DBS.201014", "DBS.201015", "DBS.239037", "DBS.201000", "DBS.00010009":
		return true
	}
	return false
}

// retryWhileBusy is common.RetryContextWithWaitForState: call, and while the error is retryable wait
// for the instance to be normal and call again.
func retryWhileBusy(t *testing.T, client *golangsdk.ServiceClient, instanceID string, call func() (interface{}, error)) (interface{}, error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		res, err := call()
		if err == nil || !retryable(err) || time.Now().After(deadline) {
			return res, err
		}
		t.Logf("retryable error, waiting for the instance: %v", err)
		if _, werr := waitFor(t, "instance normal", time.Second, 10*time.Second, []string{"creating", "updating"}, []string{"normal"},
			instanceStateRefreshFunc(client, instanceID)); werr != nil {
			return nil, werr
		}
	}
}

func randomSuffix() string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	for i := range b {
		b[i] = letters[rand.Intn(len(letters))]
	}
	return string(b)
}

func TestTerraformDDSLifecycle(t *testing.T) {
	s := load(t)

	// --- provider configuration -------------------------------------------------------------
	cfg, err := authenticate(t, s)
	if err != nil {
		t.Fatalf("provider configuration failed (Terraform stops here): failed to authenticate:\n%s", err)
	}
	if cfg.hwClient.TokenID == "" || cfg.hwClient.ProjectID == "" {
		t.Fatalf("project client: has token %v, project %q", cfg.hwClient.TokenID != "", cfg.hwClient.ProjectID)
	}
	if cfg.domainClient.TokenID == "" {
		t.Fatalf("domain client has no token")
	}
	projectID := cfg.hwClient.ProjectID
	t.Logf("project client: project %s, region %q; domain client: domain %s, region %q",
		projectID, cfg.hwClient.RegionID, cfg.domainClient.DomainID, cfg.domainClient.RegionID)

	region := cfg.getRegion(s.region)
	if want := os.Getenv("DDS_GO_EXPECT_REGION"); s.region == "" && want != "" && region != want {
		t.Fatalf("the provider's region from project %q is %q, want %q", s.project, region, want)
	}
	t.Logf("SDK: openstack.NewDDSServiceV3 (catalog type \"ddsv3\", region %q)", region)
	client, err := cfg.ddsV3Client(region)
	if err != nil {
		t.Fatalf("error creating OpenTelekomCloud DDSv3 client: %v", err)
	}
	t.Logf("DDS endpoint from the catalog: %s", client.Endpoint)
	if !strings.HasSuffix(client.Endpoint, "/v3/"+projectID+"/") {
		t.Fatalf("the DDS endpoint %q does not end with /v3/<project_id>/: every DDS path would lack the project id",
			client.Endpoint)
	}

	// --- data "opentelekomcloud_dds_flavors_v3" { engine_name = "DDS-Community", type = "replica" } ----
	t.Log("SDK: flavors.List(EngineName DDS-Community)")
	fl, err := flavors.List(client, flavors.ListFlavorOpts{EngineName: "DDS-Community"})
	if err != nil {
		t.Fatalf("flavors.List: %v", err)
	}
	var flavor *flavors.FlavorResponse
	for i, f := range fl.Flavors {
		if f.Type == "replica" {
			flavor = &fl.Flavors[i]
			break
		}
	}
	if flavor == nil {
		t.Fatalf("no replica flavor among %d flavors", len(fl.Flavors))
	}
	az := s.az
	if az == "" {
		for zone, state := range flavor.AZStatus {
			if state == "normal" {
				az = zone
				break
			}
		}
	}
	if az == "" {
		az = s.region + "a"
	}
	t.Logf("flavor %s (vcpus %s, ram %s), availability zone %s", flavor.SpecCode, flavor.Vcpus, flavor.Ram, az)

	// The versions the service accepts (the SDK has no call for it; a plain GET through the SDK's client).
	version := "4.0"
	var dv struct {
		Versions []string `json:"versions"`
	}
	if _, err := client.Get(client.ServiceURL("datastores", "DDS-Community", "versions"), &dv, nil); err != nil {
		t.Errorf("GET datastores/DDS-Community/versions: %v", err)
	} else if !contains(dv.Versions, version) && len(dv.Versions) > 0 {
		version = dv.Versions[0]
	}

	// --- resource "opentelekomcloud_dds_instance_v3" -------------------------------------------
	keepDays := 8
	strategy := instances.BackupStrategy{StartTime: "08:00-09:00", KeepDays: &keepDays, Period: "1,3,5"}
	createOpts := instances.CreateOpts{
		Name:             "tf-compat-" + randomSuffix(),
		DataStore:        instances.DataStore{Type: "DDS-Community", Version: version, StorageEngine: "wiredTiger"},
		Region:           region,
		AvailabilityZone: az,
		VpcId:            vpcID,
		SubnetId:         subnetID,
		SecurityGroupId:  securityGroupID,
		Password:         dbPassword,
		Mode:             "ReplicaSet",
		Flavor: []instances.Flavor{
			{Type: "replica", Num: 1, Storage: "ULTRAHIGH", Size: 10, SpecCode: flavor.SpecCode},
		},
		BackupStrategy: strategy,
		Ssl:            "0", // ssl = false: no TLS yet (the provider's default ssl = true sends "1")
		Tags:           []tags.ResourceTag{{Key: "managed-by", Value: "terraform"}},
	}
	t.Logf("SDK: instances.Create (%s, %s %s, flavor %s)", createOpts.Name, createOpts.Mode, version, flavor.SpecCode)
	created, err := instances.Create(client, createOpts)
	if err != nil {
		t.Fatalf("error getting instance from result: %v", err)
	}
	if created.Id == "" {
		t.Fatalf("instances.Create returned no id: %+v", created)
	}
	instanceID := created.Id
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			if _, err := instances.Delete(client, instanceID); err != nil {
				t.Logf("clean-up: delete instance %s: %v", instanceID, err)
			}
		}
	})
	t.Logf("created instance %s, job %s, status %q", instanceID, created.JobId, created.Status)

	t.Log("SDK: instances.List(Id) until normal (provider: Pending creating/updating, Target normal)")
	if _, err := waitFor(t, "instance "+instanceID, 15*time.Second, 10*time.Second, []string{"creating", "updating"}, []string{"normal"},
		instanceStateRefreshFunc(client, instanceID)); err != nil {
		t.Fatalf("error waiting for instance (%s) to become ready: %v", instanceID, err)
	}

	// "since the POST method has no `period`, update backup strategy for it"
	t.Log("SDK: backups.SetBackupPolicy (period differs from 1,2,3,4,5,6,7)")
	if _, err := retryWhileBusy(t, client, instanceID, func() (interface{}, error) {
		return nil, backups.SetBackupPolicy(client, backups.ModifyBackupPolicyOpts{InstanceId: instanceID, BackupPolicy: &strategy})
	}); err != nil {
		t.Fatalf("error creating backup strategy of the DDS instance: %v", err)
	}

	// resourceDdsInstanceV3Read
	t.Log("SDK: instances.List(Id) (Read)")
	list, err := instances.List(client, instances.ListInstanceOpts{Id: instanceID})
	if err != nil {
		t.Fatalf("error fetching DDS instance: %v", err)
	}
	if list.TotalCount != 1 || len(list.Instances) != 1 {
		t.Fatalf("List(id) returned total_count %d, %d instances", list.TotalCount, len(list.Instances))
	}
	inst := list.Instances[0]
	checks := []struct {
		field string
		got   interface{}
		want  interface{}
	}{
		{"id", inst.Id, instanceID},
		{"name", inst.Name, createOpts.Name},
		{"status", inst.Status, "normal"},
		{"mode", inst.Mode, "ReplicaSet"},
		{"region", inst.Region, region},
		{"datastore.type", inst.DataStore.Type, "DDS-Community"},
		{"datastore.version", inst.DataStore.Version, version},
		{"engine", inst.Engine, "wiredTiger"},
		{"vpc_id", inst.VpcId, vpcID},
		{"subnet_id", inst.SubnetId, subnetID},
		{"security_group_id", inst.SecurityGroupId, securityGroupID},
		{"db_user_name", inst.DbUserName, "rwuser"},
		{"ssl", inst.Ssl, 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("instance %s = %v, want %v", c.field, c.got, c.want)
		}
	}
	if inst.Port <= 0 {
		t.Errorf("instance port = %d", inst.Port)
	}
	if len(inst.Groups) == 0 || len(inst.Groups[0].Nodes) == 0 || inst.Groups[0].Nodes[0].Role != "Primary" {
		t.Errorf("instance groups/nodes: %+v", inst.Groups)
	}
	foundTag := false
	for _, tag := range inst.Tags {
		foundTag = foundTag || (tag.Key == "managed-by" && tag.Value == "terraform")
	}
	if !foundTag {
		t.Errorf("instance tags = %+v, want managed-by=terraform", inst.Tags)
	}

	// Update with a changed `tags` map: common.UpdateResourceTags deletes the old tags, then
	// creates the new ones (resource type "instances"), and the next Read must show exactly those.
	t.Log("SDK: tags.Delete + tags.Create (Update, tags changed)")
	newTags := []tags.ResourceTag{{Key: "managed-by", Value: "tofu"}, {Key: "env", Value: "test"}}
	if err := tags.Delete(client, "instances", instanceID, inst.Tags).ExtractErr(); err != nil {
		t.Fatalf("error updating tags of DDS instance (delete): %v", err)
	}
	if err := tags.Create(client, "instances", instanceID, newTags).ExtractErr(); err != nil {
		t.Fatalf("error updating tags of DDS instance (create): %v", err)
	}
	reread, err := instances.List(client, instances.ListInstanceOpts{Id: instanceID})
	if err != nil || len(reread.Instances) != 1 {
		t.Fatalf("error fetching DDS instance after the tag update: %v", err)
	}
	got := map[string]string{}
	for _, tag := range reread.Instances[0].Tags {
		got[tag.Key] = tag.Value
	}
	if len(got) != 2 || got["managed-by"] != "tofu" || got["env"] != "test" {
		t.Errorf("instance tags after the update = %v, want managed-by=tofu, env=test", got)
	}

	t.Log("SDK: backups.GetBackupPolicy (Read)")
	policy, err := backups.GetBackupPolicy(client, instanceID)
	if err != nil {
		t.Fatalf("GetBackupPolicy: %v", err)
	}
	if policy.StartTime != strategy.StartTime || policy.KeepDays == nil || *policy.KeepDays != keepDays || policy.Period != strategy.Period {
		kd := "nil"
		if policy.KeepDays != nil {
			kd = fmt.Sprint(*policy.KeepDays)
		}
		t.Errorf("backup policy = {%s %s %s}, want {%s %d %s}", policy.StartTime, kd, policy.Period,
			strategy.StartTime, keepDays, strategy.Period)
	}

	// --- resource "opentelekomcloud_dds_backup_v3" ---------------------------------------------
	backupName := "tf-backup-" + randomSuffix()
	t.Logf("SDK: backups.Create (%s)", backupName)
	r, err := retryWhileBusy(t, client, instanceID, func() (interface{}, error) {
		return backups.Create(client, backups.CreateOpts{Backup: &backups.Backup{
			InstanceId: instanceID, Name: backupName, Description: "taken by the Go SDK compatibility test",
		}})
	})
	if err != nil {
		t.Fatalf("error creating DDS backup: %v", err)
	}
	bjob := r.(*backups.Job)
	if bjob.BackupId == "" || bjob.JobId == "" {
		t.Fatalf("backups.Create returned %+v", bjob)
	}
	t.Log("SDK: job.Get until Completed (provider: Pending Running, Target Completed)")
	if _, err := waitFor(t, "backup job "+bjob.JobId, 10*time.Second, 10*time.Second, []string{"Running"}, []string{"Completed"},
		jobStateRefreshFunc(client, bjob.JobId)); err != nil {
		t.Fatalf("error waiting for job (%s) to complete: %v", bjob.BackupId, err)
	}

	t.Log("SDK: backups.List(BackupId) (backup Read)")
	bl, err := backups.List(client, backups.ListBackupsOpts{BackupId: bjob.BackupId})
	if err != nil {
		t.Fatalf("error fetching DDS backups: %v", err)
	}
	if len(bl.Backups) != 1 {
		t.Fatalf("List(backup_id) returned %d backups (total_count %d)", len(bl.Backups), bl.TotalCount)
	}
	b := bl.Backups[0]
	bchecks := []struct {
		field     string
		got, want interface{}
	}{
		{"id", b.ID, bjob.BackupId},
		{"name", b.Name, backupName},
		{"instance_id", b.InstanceId, instanceID},
		{"instance_name", b.InstanceName, createOpts.Name},
		{"type", b.Type, "Manual"},
		{"status", b.Status, "COMPLETED"},
		{"datastore.type", b.Datastore.Type, "DDS-Community"},
		{"datastore.version", b.Datastore.Version, version},
	}
	for _, c := range bchecks {
		if c.got != c.want {
			t.Errorf("backup %s = %v, want %v", c.field, c.got, c.want)
		}
	}
	if b.BeginTime == "" || b.EndTime == "" || b.Size <= 0 {
		t.Errorf("backup begin/end/size = %q/%q/%d", b.BeginTime, b.EndTime, b.Size)
	}

	t.Log("SDK: backups.List(InstanceId)")
	byInstance, err := backups.List(client, backups.ListBackupsOpts{InstanceId: instanceID})
	if err != nil {
		t.Fatalf("backups.List(instance_id): %v", err)
	}
	listed := false
	for _, x := range byInstance.Backups {
		listed = listed || x.ID == bjob.BackupId
	}
	if !listed || byInstance.TotalCount < 1 {
		t.Errorf("backup %s not in the instance's list (total_count %d)", bjob.BackupId, byInstance.TotalCount)
	}

	t.Log("SDK: backups.Delete")
	r, err = retryWhileBusy(t, client, instanceID, func() (interface{}, error) {
		return backups.Delete(client, bjob.BackupId)
	})
	if err != nil {
		t.Fatalf("error deleting DDS backup: %v", err)
	}
	djob := r.(*backups.Job)
	t.Log("SDK: job.Get until Completed/Deleted")
	if _, err := waitFor(t, "backup delete job "+djob.JobId, 10*time.Second, 10*time.Second, []string{"Running"}, []string{"Completed", "Deleted"},
		jobStateRefreshFunc(client, djob.JobId)); err != nil {
		t.Fatalf("error waiting for job (%s) to be completed: %v", bjob.BackupId, err)
	}
	gone, err := backups.List(client, backups.ListBackupsOpts{BackupId: bjob.BackupId})
	if err != nil {
		t.Fatalf("backups.List after delete: %v", err)
	}
	if gone.TotalCount != 0 || len(gone.Backups) != 0 {
		t.Errorf("backup still listed after delete: %+v", gone.Backups)
	}

	// --- destroy the instance -------------------------------------------------------------------
	t.Log("SDK: instances.Delete")
	delJob, err := instances.Delete(client, instanceID)
	if err != nil {
		t.Fatalf("instances.Delete: %v", err)
	}
	if delJob == nil || *delJob == "" {
		t.Errorf("instances.Delete returned no job id")
	}
	t.Log("SDK: instances.List(Id) until gone (provider: Pending normal/abnormal/..., Target deleted)")
	if _, err := waitFor(t, "instance delete "+instanceID, 15*time.Second, 10*time.Second,
		[]string{"normal", "abnormal", "frozen", "createfail", "enlargefail", "data_disk_full"}, []string{"deleted"},
		instanceStateRefreshFunc(client, instanceID)); err != nil {
		t.Fatalf("error waiting for instance (%s) to be deleted: %v", instanceID, err)
	}
	deleted = true
}
