# -Credential, -ConnectTimeout, -CommandTimeout and -ThrottleLimit, on every node cmdlet. Each
# cmdlet is made to run one command per node: Invoke-DfNodeCommand is given it, the others run
# it as the one service's status, stop or start command. The command appends a line to a file
# of the test drive (the test nodes are this machine), so the test sees where and when it ran.
BeforeDiscovery {
    $cmdlets = @(
        @{ Cmdlet = 'Invoke-DfNodeCommand' }
        @{ Cmdlet = 'Get-DfServiceStatus' }
        @{ Cmdlet = 'Stop-DfControlPlane' }
        @{ Cmdlet = 'Start-DfControlPlane' }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    . (Join-Path $PSScriptRoot '../fixtures/remote/TestCloud.ps1')
    $cluster = Get-Content (Join-Path $env:DF_TEST_SSH_DIR 'nodes.json') -Raw | ConvertFrom-Json
    $known = Join-Path $env:DF_TEST_SSH_DIR 'known_hosts'

    # An inventory of the first $Count test nodes (or of $Nodes), each with the one service
    # df-local-controller whose status, stop and start commands are all $Command.
    function New-NodeInventory([string] $Command, [int] $Count = 3, [string] $Key = 'id_ed25519', [object[]] $Nodes) {
        if (-not $Nodes) { $Nodes = $cluster.Nodes | Select-Object -First $Count | ForEach-Object { "@{ Name = '$($_.Name)'; Address = '$($_.Address)' }" } }
        $quoted = $Command.Replace("'", "''")
        $path = Join-Path $TestDrive "inventory-$([guid]::NewGuid()).psd1"
        @"
@{
    Defaults = @{ User = '$($cluster.User)'; Port = $($cluster.Port); IdentityFile = '$(Join-Path $env:DF_TEST_SSH_DIR $Key)'
                  Start = '$quoted'; Stop = '$quoted'; Status = '$quoted' }
    Roles    = @{ compute = @{ Services = @('df-local-controller') } }
    Nodes    = @( $(($Nodes | ForEach-Object { $_.TrimEnd('}') + "; Roles = @('compute') }" }) -join ', ') )
}
"@ | Set-Content $path
        Get-DfNode $path
    }

    # Runs $Cmdlet on $Nodes so that it runs $Command on each; returns its output, every error
    # (written or thrown) and how long it took.
    function Invoke-NodeCmdlet([string] $Cmdlet, $Nodes, [string] $Command, [hashtable] $Parameters = @{}) {
        $Parameters = $Parameters + @{ KnownHostsPath = $known; ErrorVariable = 'written'; ErrorAction = 'SilentlyContinue' }
        if ($Cmdlet -eq 'Invoke-DfNodeCommand') { $Parameters.Command = $Command }
        if ($Cmdlet -eq 'Stop-DfControlPlane') { $Parameters.Confirm = $false }   # ConfirmImpact High
        $written = @(); $thrown = @()
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $output = try { $Nodes | & $Cmdlet @Parameters } catch { $thrown = @($_) }
        $watch.Stop()
        [pscustomobject]@{ Output = @($output); Errors = @($written) + $thrown; Seconds = $watch.Elapsed.TotalSeconds }
    }

    # Everything a run said: its errors' messages and its output objects' properties.
    function Get-Said($Run) {
        $errors = $Run.Errors | ForEach-Object { if ($_ -is [Management.Automation.ErrorRecord]) { $_.Exception.Message } else { "$_" } }
        $output = $Run.Output | ForEach-Object { $_ | Format-List * | Out-String -Width 4096 }
        (@($errors) + @($output)) -join "`n"
    }

    # A command that logs the time it ran from and to, one line per run.
    function New-LoggingCommand([double] $Sleep = 0) {
        $log = Join-Path $TestDrive "ran-$([guid]::NewGuid()).log"
        $command = "b=`$(date +%s.%N); sleep $Sleep; echo `"`$b `$(date +%s.%N)`" >> '$log'"
        $command, $log
    }
    function Get-Runs([string] $Log) {
        if (-not (Test-Path $Log)) { return }
        Get-Content $Log | ForEach-Object {
            $b, $e = $_ -split ' '
            [pscustomobject]@{ Begin = [double]::Parse($b, [cultureinfo]::InvariantCulture); End = [double]::Parse($e, [cultureinfo]::InvariantCulture) }
        }
    }
}

Describe '<Cmdlet> -Credential' -ForEach $cmdlets {
    It 'opens an encrypted identity file with the passphrase given as the credential''s password, and without it runs nothing' {
        $command, $log = New-LoggingCommand
        $nodes = New-NodeInventory $command -Count 2 -Key 'id_ed25519_pass'

        $without = Invoke-NodeCmdlet $Cmdlet $nodes $command
        $without.Errors.Count | Should -BeGreaterOrEqual 2
        Get-Said $without | Should -BeLike '*id_ed25519_pass is encrypted: give its passphrase with -Credential*'
        $log | Should -Not -Exist

        $passphrase = [pscredential]::new('unused', (ConvertTo-SecureString 'df-test-passphrase' -AsPlainText -Force))
        $with = Invoke-NodeCmdlet $Cmdlet $nodes $command @{ Credential = $passphrase }
        $with.Errors | Should -BeNullOrEmpty
        @(Get-Runs $log).Count | Should -Be 2
    }
}

Describe '<Cmdlet> -ConnectTimeout' -ForEach $cmdlets {
    BeforeAll {
        # A port that accepts connections and never says a word, as a wedged sshd would.
        $silent = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
        $silent.Start()
    }
    AfterAll { $silent.Stop() }

    It 'gives up on a node that does not answer after -ConnectTimeout seconds, not the default 10' {
        $nodes = New-NodeInventory 'true' -Nodes "@{ Name = 'silent1'; Address = '127.0.0.1'; Port = $($silent.LocalEndpoint.Port) }"
        $r = Invoke-NodeCmdlet $Cmdlet $nodes 'true' @{ ConnectTimeout = 1 }
        $r.Seconds | Should -BeLessThan 9
        Get-Said $r | Should -BeLike '*silent1*timed out*'
    }
}

Describe '<Cmdlet> -CommandTimeout' -ForEach $cmdlets {
    It 'stops waiting for a command after -CommandTimeout seconds and says so' {
        $nodes = New-NodeInventory 'sleep 30' -Count 1
        $r = Invoke-NodeCmdlet $Cmdlet $nodes 'sleep 30' @{ CommandTimeout = 1 }
        $r.Seconds | Should -BeLessThan 20
        Get-Said $r | Should -BeLike '*timed out after 1 s*'
    }
}

Describe '<Cmdlet> -ThrottleLimit' -ForEach $cmdlets {
    It 'runs on no more nodes at once than the limit' {
        $dir = Join-Path $TestDrive "throttle-$([guid]::NewGuid())"
        New-Item -ItemType Directory $dir | Out-Null
        $command = Get-ThrottleWatchCommand $dir
        $nodes = New-NodeInventory $command -Count 3
        (Invoke-NodeCmdlet $Cmdlet $nodes $command @{ ThrottleLimit = 1 }).Errors | Should -BeNullOrEmpty
        $seen = @(Get-Content "$dir/max")
        $seen.Count | Should -Be 3
        ($seen | Measure-Object -Maximum).Maximum | Should -Be 1
    }
}
