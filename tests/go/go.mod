module ddsselfhosted/gocompat

go 1.22

require github.com/opentelekomcloud/gophertelekomcloud v0.9.8

require gopkg.in/yaml.v2 v2.3.0 // indirect
