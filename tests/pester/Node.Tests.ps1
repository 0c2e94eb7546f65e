BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
}

Describe 'Get-DfNode' {
    BeforeAll {
        $psd1 = Join-Path $TestDrive 'cloud.psd1'
        Set-Content $psd1 @'
@{
    Defaults = @{ User = 'stack'; IdentityFile = 'keys/id_ed25519' }
    Services = @{ 'df-metadata-service' = @{ Start = 'docker start df-metadata' } }
    Nodes    = @(
        @{ Name = 'ctl1'; Address = '10.0.0.11'; Roles = 'controller', 'compute' }
        @{ Name = 'cmp1'; Address = '10.0.0.21'; Roles = @('compute') }
        @{ Name = 'net1'; Address = '10.0.0.31'; Port = 2200; Roles = @('network'); User = 'ops' }
    )
}
'@
    }

    It 'lists every node of a .psd1 inventory with its roles and services' {
        $nodes = Get-DfNode -Inventory $psd1
        $nodes.Name | Should -Be 'ctl1', 'cmp1', 'net1'
        $nodes[0].Services.Name | Should -Be 'neutron-server', 'df-publisher-service', 'df-local-controller', 'df-metadata-service'
        $nodes[0].IdentityFile | Should -Be (Join-Path $TestDrive 'keys/id_ed25519')
        $nodes[2].Port, $nodes[2].User | Should -Be 2200, 'ops'
        ($nodes[1].Services | Where-Object Name -EQ 'df-metadata-service').StartCommand | Should -Be 'docker start df-metadata'
    }

    It 'reads the same inventory from a .json file' {
        $json = Join-Path $TestDrive 'cloud.json'
        Import-PowerShellDataFile $psd1 | ConvertTo-Json -Depth 5 | Set-Content $json
        (Get-DfNode $json).Name | Should -Be 'ctl1', 'cmp1', 'net1'
    }

    It 'selects nodes by role and by name, with wildcards' {
        (Get-DfNode $psd1 -Role compute).Name | Should -Be 'ctl1', 'cmp1'
        (Get-DfNode $psd1 -Role net*).Name | Should -Be 'net1'
        (Get-DfNode $psd1 -Name c*).Name | Should -Be 'ctl1', 'cmp1'
    }

    It 'reports a node name that the inventory lacks' {
        $nodes = Get-DfNode $psd1 -Name cmp1, cmp7 -ErrorVariable errors -ErrorAction SilentlyContinue
        $nodes.Name | Should -Be 'cmp1'
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'NodeNotFound,*'
        $errors[0].Exception.Message | Should -BeLike "*has no node named 'cmp7'*"
    }

    It 'shows nodes as a table of name, address, port, user, roles and services' {
        $table = Get-DfNode $psd1 -Name net1 | Out-String
        $table | Should -Match 'Name\s+Address\s+Port\s+User\s+Roles\s+Services'
        $table | Should -Match 'net1\s+10\.0\.0\.31\s+2200\s+ops\s+network\s+df-l3-agent, df-bgp-service'
    }

    It 'reads the example inventory shipped with the module' {
        $nodes = Get-DfNode (Join-Path $PSScriptRoot '../../module/examples/inventory.example.psd1')
        $nodes.Count | Should -Be 7
        $ctl = $nodes | Where-Object Name -EQ 'ctl1'
        $ctl.Services.Name | Should -Be 'neutron-server', 'df-publisher-service', 'df-local-controller'
        $ctl.Services[0].StopCommand | Should -Be "sudo -n systemctl stop neutron-server"
        $net = $nodes | Where-Object Name -EQ 'net1'
        $net.Services.Name | Should -Be 'df-l3-agent', 'df-bgp-service'
        $net.Services[1].StartCommand | Should -Be "sudo -n rc-service df-bgp-service start"
        ($nodes | Where-Object Name -EQ 'cmp002').Chassis | Should -Be 'cmp002.example.org'
    }

    Context 'a malformed inventory' {
        It 'names the file, line and field of a value of the wrong kind' {
            $bad = Join-Path $TestDrive 'bad-port.psd1'
            Set-Content $bad "@{`n    Nodes = @(`n        @{ Name = 'a'; Address = '10.0.0.1'; Roles = 'compute'`n           Port = 'ssh' }`n    )`n}"
            { Get-DfNode $bad } | Should -Throw "$bad, line 4, field Nodes[[]0].Port: 'ssh' is not a port number*"
        }

        It 'refuses to run code from a .psd1, naming the line and field' {
            $bad = Join-Path $TestDrive 'code.psd1'
            Set-Content $bad "@{`n    Nodes = @(`n        @{ Name = 'a'; Roles = 'compute'`n           Address = (hostname) }`n    )`n}"
            $e = { Get-DfNode $bad } | Should -Throw -PassThru
            $e.Exception.Message | Should -BeLike "$bad, line 4, field Nodes[[]0].Address: (hostname) is not a constant*"
            $e.FullyQualifiedErrorId | Should -BeLike 'InventoryInvalid,*'
        }

        It 'names the line of a syntax error' {
            $bad = Join-Path $TestDrive 'syntax.psd1'
            Set-Content $bad "@{`n    Nodes = @(`n        @{ Name = 'a' Address = 'b' }`n    )`n}"
            { Get-DfNode $bad } | Should -Throw "$bad, line 3: not valid PowerShell*"
        }

        It 'names a missing field and the line of the node that lacks it' {
            $bad = Join-Path $TestDrive 'missing.json'
            Set-Content $bad "{`n  `"Nodes`": [`n    { `"Name`": `"a`", `"Address`": `"10.0.0.1`" }`n  ]`n}"
            { Get-DfNode $bad } | Should -Throw "$bad, line 3, field Nodes[[]0].Roles: is missing*"
        }
    }
}

Describe 'The node cmdlets under -WhatIf' {
    BeforeAll {
        $inventory = Join-Path $TestDrive 'whatif.psd1'
        Set-Content $inventory @'
@{
    Roles = @{ gateway = @{ Services = 'df-l3-agent', 'df-bgp-service'; Stop = 'sudo -n rc-service {service} stop && logger stopped {service} on {node}' } }
    Nodes = @(
        @{ Name = 'ctl1'; Address = '10.0.0.11'; Roles = 'controller' }
        @{ Name = 'net1'; Address = '10.0.0.21'; Roles = 'gateway' }
    )
}
'@
        # What -WhatIf tells the host, which no stream carries: through a transcript.
        function Get-WhatIf([scriptblock] $Command) {
            $file = Join-Path $TestDrive "transcript-$([guid]::NewGuid()).txt"
            Start-Transcript $file | Out-Null
            try { & $Command | Out-Null } finally { Stop-Transcript | Out-Null }
            (Get-Content $file -Raw) -replace "`r", ''
        }
    }

    It 'Stop-DfControlPlane shows the exact command lines of each node, in the order they would run' {
        $text = Get-WhatIf { Get-DfNode $inventory | Stop-DfControlPlane -WhatIf }
        $text | Should -BeLike "*What if: Stop neutron-server, df-publisher-service on ctl1 (10.0.0.11), running:`n    systemctl stop neutron-server`n    systemctl stop df-publisher-service`n*"
        $text | Should -BeLike "*What if: Stop df-bgp-service, df-l3-agent on net1 (10.0.0.21), running:`n    sudo -n rc-service df-bgp-service stop && logger stopped df-bgp-service on net1`n    sudo -n rc-service df-l3-agent stop && logger stopped df-l3-agent on net1`n*"
    }

    It 'Start-DfControlPlane shows them too, Dragonflow services first' {
        $text = Get-WhatIf { Get-DfNode $inventory -Name ctl1 | Start-DfControlPlane -WhatIf }
        $text | Should -BeLike "*What if: Start df-publisher-service, neutron-server on ctl1 (10.0.0.11), running:`n    systemctl start df-publisher-service`n    systemctl start neutron-server`n*"
    }

    It 'Invoke-DfNodeCommand shows the command as each node would get it' {
        $text = Get-WhatIf { Get-DfNode $inventory | Invoke-DfNodeCommand 'echo "$HOSTNAME" | wc -c' -WhatIf }
        foreach ($node in 'ctl1 (10.0.0.11)', 'net1 (10.0.0.21)') {
            $text | Should -BeLike "*What if: Run a command on $node, running:`n    echo `"`$HOSTNAME`" | wc -c`n*"
        }
    }
}
