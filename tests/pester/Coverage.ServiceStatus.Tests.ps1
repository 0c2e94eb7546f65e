# The module's reading of service statuses, run for real on a test node (the test nodes are this
# machine): init scripts as Debian writes them (tests/fixtures/remote/lsb-init-service, a daemon
# started by start-stop-daemon with a pid file) driven through the node cmdlets, and the
# built-in default status command, systemctl is-active, as this machine answers it.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    $cluster = Get-Content (Join-Path $env:DF_TEST_SSH_DIR 'nodes.json') -Raw | ConvertFrom-Json
    $ssh = @{ KnownHostsPath = (Join-Path $env:DF_TEST_SSH_DIR 'known_hosts') }
    $services = 'df-local-controller', 'df-metadata-service'

    # An inventory of the first test node, a compute node with $services; $Commands are the
    # Defaults' Start, Stop and Status lines (none: the module's own, systemctl).
    function New-NodeInventory([string] $Commands = '') {
        $node = $cluster.Nodes[0]
        $path = Join-Path $TestDrive "inventory-$([guid]::NewGuid()).psd1"
        @"
@{
    Defaults = @{ User = '$($cluster.User)'; Port = $($cluster.Port); IdentityFile = '$(Join-Path $env:DF_TEST_SSH_DIR 'id_ed25519')'
                  $Commands }
    Roles    = @{ compute = @{ Services = @('$($services -join "', '")') } }
    Nodes    = @( @{ Name = '$($node.Name)'; Address = '$($node.Address)'; Roles = @('compute') } )
}
"@ | Set-Content $path
        Get-DfNode $path
    }

    function Get-StatusOf($Node) {
        $status = @($Node | Get-DfServiceStatus @ssh)
        $status.Count | Should -Be $services.Count
        $status
    }
}

Describe 'Get-DfServiceStatus, Start-DfControlPlane and Stop-DfControlPlane on services run by init scripts' {
    BeforeAll {
        # Each service's init script, installed under the service's name as /etc/init.d scripts are.
        $initd = Join-Path $TestDrive 'init.d'
        New-Item -ItemType Directory $initd | Out-Null
        foreach ($s in $services) {
            Copy-Item (Join-Path $PSScriptRoot '../fixtures/remote/lsb-init-service') (Join-Path $initd $s)
            chmod +x (Join-Path $initd $s)
        }
        $node = New-NodeInventory "Start = '$initd/{service} start'; Stop = '$initd/{service} stop'; Status = '$initd/{service} status'"
        function Get-DaemonId([string] $Service) { [int](Get-Content (Join-Path $initd "$Service.pid")) }
        # Whether a process runs; a zombie (dead, not yet reaped by its parent) has ended.
        function Test-Running([int] $Id) {
            $stat = Get-Content "/proc/$Id/stat" -Raw -ErrorAction SilentlyContinue
            $stat -and ($stat -split ' ')[2] -ne 'Z'
        }
    }
    AfterAll {
        foreach ($s in $services) { & (Join-Path $initd $s) stop }
    }

    It 'reports Stopped before the start, Running after it, Failed for a daemon killed with its pid file left, and Stopped after the stop' {
        foreach ($r in Get-StatusOf $node) {
            "$($r.Service): $($r.Status) ($($r.ExitCode))" | Should -Be "$($r.Service): Stopped (3)"
        }

        $started = $node | Start-DfControlPlane @ssh
        $started.Succeeded | Should -Not -Contain $false
        foreach ($s in $services) { Test-Running (Get-DaemonId $s) | Should -BeTrue -Because "$s should run after the start" }
        foreach ($r in Get-StatusOf $node) {
            "$($r.Service): $($r.Status) ($($r.ExitCode))" | Should -Be "$($r.Service): Running (0)"
            $r.Detail | Should -BeLike "$($r.Service) is running*"
        }

        # Killed hard: no stop ran, so its pid file is left.
        $killed = Get-DaemonId df-metadata-service
        kill -9 $killed
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (Test-Running $killed) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "Process $killed still runs 30 s after SIGKILL." }
            Start-Sleep -Milliseconds 20
        }
        $status = Get-StatusOf $node
        $failed = $status | Where-Object { $_.Service.Name -eq 'df-metadata-service' }
        "$($failed.Status) ($($failed.ExitCode))" | Should -Be 'Failed (1)'
        $failed.Detail | Should -BeLike 'df-metadata-service is dead, its pid file left*'
        ($status | Where-Object { $_.Service.Name -eq 'df-local-controller' }).Status | Should -Be 'Running'

        $stopped = $node | Stop-DfControlPlane @ssh -Confirm:$false
        $stopped.Succeeded | Should -Not -Contain $false
        foreach ($s in $services) { Join-Path $initd "$s.pid" | Should -Not -Exist }
        foreach ($r in Get-StatusOf $node) {
            "$($r.Service): $($r.Status) ($($r.ExitCode))" | Should -Be "$($r.Service): Stopped (3)"
        }
    }
}

Describe 'Get-DfServiceStatus with the default status command' {
    It 'runs systemctl is-active on the node and reports its answer, never Running for a unit the node does not have' {
        $node = New-NodeInventory
        $node.Services.StatusCommand | Should -Be ($services | ForEach-Object { "systemctl is-active $_" })
        # What systemctl answers here, asked directly (the test node is this machine): with systemd
        # as init, "inactive" (exit 3) for a unit it does not have; without, nothing on its output,
        # the reason on its error output, exit 1; with no systemctl at all, exit 127.
        $answer = bash -c 'systemctl is-active df-local-controller 2>&1; echo "exit $?"'
        $exit = [int](($answer | Select-Object -Last 1) -replace '^exit ')
        $said = @($answer | Select-Object -SkipLast 1 | Where-Object { $_ })

        $r = Get-StatusOf $node | Where-Object { $_.Service.Name -eq 'df-local-controller' }
        $r.ExitCode | Should -Be $exit
        if ($said) { $r.Detail.Contains($said[0]) | Should -BeTrue -Because "the detail should hold what systemctl said: $($said[0])" }
        $r.Status | Should -Not -Be 'Running'
        if ($said -contains 'inactive') { $r.Status | Should -Be 'Stopped' }
    }
}
