# An inventory for Get-DfNode: the nodes of a Dragonflow cloud, their roles, and how to start,
# stop and query each service on them. A .json file with the same shape works too.
#
#   Get-DfNode ./inventory.psd1 | Stop-DfControlPlane -Database redis://10.0.0.5:6379/0
#
# A service's commands come from Services below, else from its role under Roles, else from
# Defaults, else systemd: 'systemctl start|stop|is-active {service}'. In a command, {service},
# {node} and {chassis} are replaced by those names as they are, so they may stand anywhere,
# quoted or not ("logger 'started {service} on {node}'", "--unit={service}"). Service, node and
# chassis names hold only ASCII letters, digits and : - _ . @ (as systemd unit names do), which
# no shell treats specially. -WhatIf
# on the node cmdlets shows the command lines each node would run. A status command answers
# like 'systemctl is-active' (active, inactive, failed) or with an LSB exit code
# (0 running, 1-2 dead, 3 not running).
#
# Roles known without being defined here, with their services in start order:
#   controller  neutron-server, df-publisher-service
#   compute     df-local-controller, df-metadata-service
#   network     df-l3-agent, df-bgp-service
# A service that two of a node's roles list takes its commands from the first of them.
# Services named neutron* are Neutron servers (stopped first, started last); the others are
# Dragonflow services. Those that write heartbeats into the NB service table (all but
# df-l3-agent, unless Heartbeat says otherwise) are waited for by Start-DfControlPlane -Database.
@{
    # What every node has unless it says otherwise.
    Defaults = @{
        User         = 'stack'
        Port         = 22
        IdentityFile = '~/.ssh/id_ed25519'      # relative paths are relative to this file
        Start        = 'sudo -n systemctl start {service}'
        Stop         = 'sudo -n systemctl stop {service}'
        Status       = 'systemctl is-active {service}'
    }

    # Roles: the services each runs, and commands for them.
    Roles    = @{
        # The controllers here also run a local controller.
        controller = @{ Services = @('neutron-server', 'df-publisher-service', 'df-local-controller') }
        # A role of this cloud's own: network nodes that run OpenRC, not systemd.
        gateway    = @{
            Services = @('df-l3-agent', 'df-bgp-service')
            Start    = 'sudo -n rc-service {service} start'
            Stop     = 'sudo -n rc-service {service} stop'
            Status   = 'rc-service {service} status'
        }
    }

    # Per-service commands and settings, on whatever node runs the service.
    Services = @{
        'df-metadata-service' = @{
            Start  = 'docker start df-metadata'
            Stop   = 'docker stop df-metadata'
            Status = 'docker inspect -f "{{.State.Status}}" df-metadata | sed s/running/active/'
        }
    }

    # The nodes. Name is the node's host name in Dragonflow (its chassis); give Chassis when it differs.
    Nodes    = @(
        @{ Name = 'ctl1'; Address = '10.0.0.11'; Roles = @('controller') }
        @{ Name = 'ctl2'; Address = '10.0.0.12'; Roles = @('controller') }
        @{ Name = 'ctl3'; Address = '10.0.0.13'; Roles = @('controller') }
        @{ Name = 'net1'; Address = '10.0.0.21'; Roles = @('gateway') }
        @{ Name = 'cmp001'; Address = '10.0.1.1'; Roles = @('compute') }
        @{ Name = 'cmp002'; Address = '10.0.1.2'; Roles = @('compute'); Chassis = 'cmp002.example.org' }
        @{ Name = 'cmp003'; Address = '10.0.1.3'; Roles = @('compute'); User = 'ops'; Port = 2222 }
    )
}
