module sealtag

go 1.26

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/emersion/go-message v0.18.2
	github.com/emersion/go-milter v0.5.0
)

require golang.org/x/text v0.14.0 // indirect
