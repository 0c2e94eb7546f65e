BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    . (Join-Path $PSScriptRoot '../fixtures/remote/TestCloud.ps1')

    # Runs a cmdlet that may end in a terminating error; keeps the objects and errors it wrote before.
    function Invoke-Capturing([scriptblock] $Command) {
        $ErrorActionPreference = 'Continue' # per-node errors stay non-terminating, whatever the caller's preference
        $output = [System.Collections.Generic.List[object]]::new()
        $errors = [System.Collections.Generic.List[object]]::new()
        $thrown = $null
        try { & $Command 2>&1 | ForEach-Object { if ($_ -is [System.Management.Automation.ErrorRecord]) { $errors.Add($_) } else { $output.Add($_) } } }
        catch { $thrown = $_ }
        [pscustomobject]@{ Output = $output; Errors = $errors; Thrown = $thrown }
    }

    function Get-StatusTable($Nodes, $Ssh) {
        $Nodes | Get-DfServiceStatus @Ssh | ForEach-Object { [pscustomobject]@{ Node = $_.Node.Name; Service = $_.Service.Name; Status = "$($_.Status)" } }
    }
}

Describe 'Start-DfControlPlane and Stop-DfControlPlane with an NB database' {
    BeforeAll {
        # The services write their first heartbeats only once the test opens the gate.
        $cloud = New-TestCloud -RedisDb 53 -NodeCount 3 -FirstBeatGate
        $ssh = @{ KnownHostsPath = $cloud.KnownHosts }
        $common = @{ KnownHostsPath = $cloud.KnownHosts; Database = $cloud.Database; HeartbeatTimeout = 20 }
        $nodes = Get-DfNode $cloud.Inventory
    }
    AfterAll { Remove-TestCloud $cloud }

    It 'starts the Dragonflow services, waits for their first heartbeats, then starts Neutron' {
        # The gate opens when the cmdlet's progress says it waits for the first heartbeats: a
        # start that started Neutron before waiting would start it before them.
        $ps = [powershell]::Create()
        $null = $ps.AddScript({ param($Module, $Nodes, $Common) Import-Module $Module; $Nodes | Start-DfControlPlane @Common }).
            AddArgument((Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1')).AddArgument($nodes).AddArgument($common)
        $running = $ps.BeginInvoke()
        $deadline = [DateTime]::UtcNow.AddSeconds(120)
        while (-not $running.IsCompleted -and [DateTime]::UtcNow -lt $deadline) {
            if ($ps.Streams.Progress | Where-Object Activity -EQ "Waiting for the Dragonflow services' first heartbeats") {
                New-Item (Join-Path $cloud.ServiceDir 'first-beat.open') -Force | Out-Null
                break
            }
            Start-Sleep -Milliseconds 50
        }
        $results = $ps.EndInvoke($running)
        $ps.Streams.Error | Should -BeNullOrEmpty
        $ps.Dispose()
        $results.Count | Should -Be 3
        $results.Succeeded | Should -Not -Contain $false
        $results[0].Action | Should -Be 'Start'

        $events = Get-TestServiceEvent $cloud
        $neutron = $events | Where-Object { $_.Service -eq 'neutron-server' -and $_.What -eq 'start-begin' }
        @($events | Where-Object { $_.What -eq 'first-beat' -and $_.Service -ne 'neutron-server' }).Count | Should -Be 7
        $events | Where-Object Service -NE 'neutron-server' | ForEach-Object { $_.Time | Should -BeLessThan $neutron.Time }
        $beats = Get-TestHeartbeat $cloud | Where-Object Table -EQ 'service'
        $beats.Count | Should -Be 7
        $beats | Where-Object { $_.LastSeen -lt $events[0].Time } | Should -BeNullOrEmpty
        (Get-StatusTable $nodes $ssh).Status | Should -Not -Contain 'Stopped'
    }

    It 'changes nothing with -WhatIf' {
        $results = $nodes | Stop-DfControlPlane @common -ServiceDownTime 2 -WhatIf
        $results | Should -BeNullOrEmpty
        (Get-StatusTable $nodes $ssh).Status | Sort-Object -Unique | Should -Be 'Running'
    }

    It 'stops Neutron first, then every Dragonflow service, and waits until no NB heartbeat is alive' {
        $results = $nodes | Stop-DfControlPlane @common -ServiceDownTime 2 -Confirm:$false -Verbose 4>&1
        $verbose = $results | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $results = $results | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
        $results.Count | Should -Be 3
        $results.Succeeded | Should -Not -Contain $false
        $verbose.Message | Should -Contain "$($nodes[0].Name): $(($nodes[0].Services | Where-Object Name -EQ 'neutron-server').StopCommand)"

        $events = Get-TestServiceEvent $cloud
        $neutronStopped = ($events | Where-Object { $_.Service -eq 'neutron-server' -and $_.What -eq 'stopped' }).Time
        $events | Where-Object { $_.Service -ne 'neutron-server' -and $_.What -eq 'stop-begin' } | ForEach-Object { $_.Time | Should -BeGreaterThan $neutronStopped }
        $now = Get-EpochNow
        $rows = Get-TestHeartbeat $cloud
        ($rows.Table | Sort-Object -Unique) | Should -Be 'listener', 'publisher', 'service'
        $rows | Where-Object { $now - $_.LastSeen -le 2 } | Should -BeNullOrEmpty
        (Get-StatusTable $nodes $ssh).Status | Sort-Object -Unique | Should -Be 'Stopped'
    }

    It 'shows per-node results as a table' {
        $table = $nodes[1] | Stop-DfControlPlane -KnownHostsPath $cloud.KnownHosts -Confirm:$false | Out-String
        $table | Should -Match 'Node\s+Action\s+Succeeded\s+Duration\s+Services\s+Error'
        $table | Should -Match "$($nodes[1].Name)\s+Stop\s+True\s+[\d.]+ s\s+df-metadata-service, df-local-controller"
    }
}

Describe 'Stop-DfControlPlane on a cloud with a bad node' {
    BeforeAll {
        $cloud = New-TestCloud -RedisDb 54 -NodeCount 3 -WithDownNode
        $ssh = @{ KnownHostsPath = $cloud.KnownHosts }
        $nodes = Get-DfNode $cloud.Inventory
        $up = $nodes | Where-Object Name -NE 'down1'
        $up | Start-DfControlPlane @ssh | Out-Null
    }
    AfterAll { Remove-TestCloud $cloud }

    It 'writes one error per node that did not stop, naming it, after stopping every other node' {
        $stubborn = $up[2].Name
        New-Item -ItemType File (Join-Path $cloud.ServiceDir "$stubborn/df-local-controller.refuse-stop") | Out-Null

        $run = Invoke-Capturing { $nodes | Stop-DfControlPlane @ssh -Database $cloud.Database -ServiceDownTime 2 -Confirm:$false }

        $run.Thrown | Should -BeNullOrEmpty
        $run.Output.Count | Should -Be 4
        ($run.Output | Where-Object { -not $_.Succeeded }).Node.Name | Sort-Object | Should -Be (@($stubborn, 'down1') | Sort-Object)
        $run.Errors.Count | Should -Be 2
        $refused = $run.Errors | Where-Object { $_.FullyQualifiedErrorId -like 'NodeStopFailed,*' }
        $refused.TargetObject.Name | Should -Be $stubborn
        $refused.Exception.Message | Should -BeLike "${stubborn}: *df-local-controller*"
        $refused.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        $down = $run.Errors | Where-Object { $_.FullyQualifiedErrorId -like 'NodeUnreachable,*' }
        $down.TargetObject.Name | Should -Be 'down1'
        $down.CategoryInfo.Category | Should -Be 'ConnectionError'
        $status = Get-StatusTable $up $ssh
        ($status | Where-Object { $_.Node -eq $stubborn -and $_.Service -eq 'df-local-controller' }).Status | Should -Be 'Running'
        ($status | Where-Object { -not ($_.Node -eq $stubborn -and $_.Service -eq 'df-local-controller') }).Status | Sort-Object -Unique | Should -Be 'Stopped'
    }
}

Describe 'Start-DfControlPlane with a node that cannot be reached' {
    BeforeAll {
        $cloud = New-TestCloud -RedisDb 56 -NodeCount 1 -WithDownNode
        $ssh = @{ KnownHostsPath = $cloud.KnownHosts }
        $nodes = Get-DfNode $cloud.Inventory
    }
    AfterAll { Remove-TestCloud $cloud }

    It 'writes one error for the unreachable node and still starts and reports the other' {
        $run = Invoke-Capturing { $nodes | Start-DfControlPlane @ssh }

        $run.Thrown | Should -BeNullOrEmpty
        $run.Errors.Count | Should -Be 1
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'NodeUnreachable,*'
        $run.Errors[0].TargetObject.Name | Should -Be 'down1'
        $reached = $run.Output | Where-Object { $_.Node.Name -ne 'down1' }
        $reached.Succeeded | Should -BeTrue
        (Get-StatusTable $reached.Node $ssh).Status | Sort-Object -Unique | Should -Be 'Running'
    }

    It 'has no -ServiceDownTime: a start waits for heartbeats newer than the ones before it' {
        (Get-Command Start-DfControlPlane).Parameters.Keys | Should -Not -Contain 'ServiceDownTime'
        (Get-Command Stop-DfControlPlane).Parameters.Keys | Should -Contain 'ServiceDownTime'
    }
}

Describe 'Start-DfControlPlane -ThrottleLimit' {
    BeforeAll {
        # Each service takes 0.3 s to start, so the nodes' start commands overlap when they can.
        $cloud = New-TestCloud -RedisDb 55 -NodeCount 5 -StartDelay 0.3
        $ssh = @{ KnownHostsPath = $cloud.KnownHosts }
    }
    AfterAll { Remove-TestCloud $cloud }

    It 'works on no more nodes at once than the limit' {
        Get-DfNode $cloud.Inventory | Start-DfControlPlane @ssh -ThrottleLimit 2 | Out-Null
        $perNode = Get-TestServiceEvent $cloud | Where-Object { $_.What -like 'start-*' -and $_.Service -ne 'neutron-server' } | Group-Object Node | ForEach-Object {
            [pscustomobject]@{ Begin = ($_.Group.Time | Measure-Object -Minimum).Minimum; End = ($_.Group.Time | Measure-Object -Maximum).Maximum }
        }
        $perNode.Count | Should -Be 5
        # At most the limit: how many run at once below it depends on how fast SSH connects on a
        # loaded machine. (FanOutTests.No_more_nodes_than_the_throttle_limit_run_at_once shows
        # the limit reached, with commands that wait for one another.)
        Get-MaxOverlap $perNode | Should -BeLessOrEqual 2
    }
}
