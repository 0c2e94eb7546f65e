# -Credential, -ConnectTimeout, -CommandTimeout and -ThrottleLimit on the node cmdlets that read
# and write the nodes' dragonflow.ini (Coverage.NodeParameters.Tests.ps1 has the others). Each
# cmdlet runs on nodes whose files hold the Pike fixture: Test- and Update- with a manifest that
# renames two of its options, Restore- on what such an Update output. A slow or watched node is
# one logged into with the test key whose commands first source the sshd's hook.sh.
BeforeDiscovery {
    $cmdlets = @(
        @{ Cmdlet = 'Test-DfConfiguration' }
        @{ Cmdlet = 'Update-DfConfiguration' }
        @{ Cmdlet = 'Restore-DfConfiguration' }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    . (Join-Path $PSScriptRoot 'ConfigurationSupport.ps1')
    . (Join-Path $PSScriptRoot '../fixtures/remote/TestCloud.ps1')
    $known = Join-Path $env:DF_TEST_SSH_DIR 'known_hosts'
    $hook = Join-Path $env:DF_TEST_SSH_DIR 'hook.sh'
    $next = New-RenamingManifest (Join-Path $TestDrive 'next.json')
    $passphrase = [pscredential]::new('unused', (ConvertTo-SecureString 'df-test-passphrase' -AsPlainText -Force))
    function Get-Bytes([string] $Path) { [Convert]::ToBase64String([IO.File]::ReadAllBytes($Path)) }
    $pikeBytes = Get-Bytes $PikeIni

    # What $Cmdlet takes for $Cloud: its nodes, or for Restore- what an Update of them output.
    function Get-CmdletInput([string] $Cmdlet, $Cloud, [hashtable] $Parameters = @{}) {
        if ($Cmdlet -ne 'Restore-DfConfiguration') { return , $Cloud.Nodes }
        $changes = @($Cloud.Nodes | Update-DfConfiguration -TargetRelease $next -SourceRelease queens -KnownHostsPath $known -Confirm:$false @Parameters `
            -BackupPath (Join-Path $TestDrive "backups-$([guid]::NewGuid())"))
        $changes.Count | Should -Be @($Cloud.Nodes).Count -Because 'the update the restore undoes must have changed every file'
        , $changes
    }

    # Runs $Cmdlet on $InputObject; returns its output, every error (written or thrown) and how long it took.
    function Invoke-ConfigurationCmdlet([string] $Cmdlet, $InputObject, [hashtable] $Parameters = @{}) {
        $Parameters = $Parameters + @{ KnownHostsPath = $known; ErrorVariable = 'written'; ErrorAction = 'SilentlyContinue' }
        if ($Cmdlet -ne 'Restore-DfConfiguration') { $Parameters += @{ TargetRelease = $next; SourceRelease = 'queens' } }
        if ($Cmdlet -ne 'Test-DfConfiguration') { $Parameters.Confirm = $false }
        if ($Cmdlet -eq 'Update-DfConfiguration') { $Parameters.BackupPath = Join-Path $TestDrive "backups-$([guid]::NewGuid())" }
        $written = @(); $thrown = @()
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $output = try { $InputObject | & $Cmdlet @Parameters } catch { $thrown = @($_) }
        $watch.Stop()
        [pscustomobject]@{ Output = @($output); Errors = @($written) + $thrown; Seconds = $watch.Elapsed.TotalSeconds }
    }

    # On how many of the cloud's nodes the run did its work: Test- reported the renames, Update-
    # renamed them in the file, Restore- put the Pike file back. Without a run, on how many it is done already.
    function Get-Done([string] $Cmdlet, $Cloud, $Run = [pscustomobject]@{ Output = @() }) {
        switch ($Cmdlet) {
            'Test-DfConfiguration' { @($Run.Output | Where-Object Kind -EQ Renamed | ForEach-Object Node | Select-Object -Unique).Count }
            'Update-DfConfiguration' { @($Cloud.Files | Where-Object { (Get-Bytes $_) -ne $pikeBytes }).Count }
            'Restore-DfConfiguration' { @($Cloud.Files | Where-Object { (Get-Bytes $_) -eq $pikeBytes }).Count }
        }
    }

    function Get-Said($Run) {
        (@($Run.Errors | ForEach-Object { if ($_ -is [Management.Automation.ErrorRecord]) { $_.Exception.Message } else { "$_" } })) -join "`n"
    }
}

Describe '<Cmdlet> -Credential' -ForEach $cmdlets {
    It 'opens an encrypted identity file with the passphrase given as the credential''s password, and without it reads and writes nothing' {
        $cloud = New-ConfigurationCloud -NodeCount 2 -Key 'id_ed25519_pass'
        Set-NodeConfiguration $cloud
        $in = Get-CmdletInput $Cmdlet $cloud @{ Credential = $passphrase }
        $before = Get-Done $Cmdlet $cloud

        $without = Invoke-ConfigurationCmdlet $Cmdlet $in
        $without.Errors.Count | Should -BeGreaterOrEqual 2
        Get-Said $without | Should -BeLike '*id_ed25519_pass is encrypted: give its passphrase with -Credential*'
        $without.Output | Should -BeNullOrEmpty
        Get-Done $Cmdlet $cloud $without | Should -Be $before

        $with = Invoke-ConfigurationCmdlet $Cmdlet $in @{ Credential = $passphrase }
        $with.Errors | Should -BeNullOrEmpty
        Get-Done $Cmdlet $cloud $with | Should -Be 2
    }
}

Describe '<Cmdlet> -ConnectTimeout' -ForEach $cmdlets {
    BeforeAll {
        # A port on the first test node's address that accepts connections and never says a word, as a wedged sshd would.
        $cluster = Get-Content (Join-Path $env:DF_TEST_SSH_DIR 'nodes.json') -Raw | ConvertFrom-Json
        $silent = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Parse($cluster.Nodes[0].Address), 0)
        $silent.Start()
    }
    AfterAll { $silent.Stop() }

    It 'gives up on a node that does not answer after -ConnectTimeout seconds, not the default 10, and leaves its file alone' {
        $silentCloud = New-ConfigurationCloud -NodeCount 1 -Port $silent.LocalEndpoint.Port
        $silentNode = $silentCloud.Nodes[0]
        if ($Cmdlet -eq 'Restore-DfConfiguration') {
            # What an update of a node that answers output, made to name the silent one.
            $cloud = New-ConfigurationCloud -NodeCount 1
            Set-NodeConfiguration $cloud
            $in = @(Get-CmdletInput $Cmdlet $cloud | ForEach-Object {
                    [DragonflowUpgrade.Remote.ConfigurationChange]::new($silentNode, $_.Path, [string[]] $_.Renamed, $_.Backup, $_.NodeBackup, $_.WrittenSha256, $_.OriginalSha256) })
            $file = $cloud.Files[0]
        }
        else {
            Set-NodeConfiguration $silentCloud
            $in = $silentCloud.Nodes
            $file = $silentCloud.Files[0]
        }
        $before = Get-Bytes $file

        $r = Invoke-ConfigurationCmdlet $Cmdlet $in @{ ConnectTimeout = 1 }
        $r.Seconds | Should -BeLessThan 9
        Get-Said $r | Should -BeLike "*$($silentNode.Name)*timed out*"
        $r.Output | Should -BeNullOrEmpty
        Get-Bytes $file | Should -Be $before
    }
}

Describe '<Cmdlet> -CommandTimeout' -ForEach $cmdlets {
    AfterEach { Remove-Item $hook -ErrorAction SilentlyContinue }

    It 'stops waiting for a node''s command after -CommandTimeout seconds, says so, and leaves the file alone' {
        $cloud = New-ConfigurationCloud -NodeCount 1 -Key 'id_ed25519_hooked'
        Set-NodeConfiguration $cloud
        $in = Get-CmdletInput $Cmdlet $cloud
        $before = Get-Bytes $cloud.Files[0]
        # The hook ends the shell: a command the cmdlet gave up on never runs late.
        Set-Content $hook 'sleep 30; exit 124'

        $r = Invoke-ConfigurationCmdlet $Cmdlet $in @{ CommandTimeout = 1 }
        $r.Seconds | Should -BeLessThan 20
        Get-Said $r | Should -BeLike '*timed out after 1 s*'
        $r.Output | Should -BeNullOrEmpty
        Get-Bytes $cloud.Files[0] | Should -Be $before
    }
}

Describe '<Cmdlet> -ThrottleLimit' -ForEach $cmdlets {
    AfterEach { Remove-Item $hook -ErrorAction SilentlyContinue }

    It 'runs commands on no more nodes at once than the limit' {
        $cloud = New-ConfigurationCloud -NodeCount 3 -Key 'id_ed25519_hooked'
        Set-NodeConfiguration $cloud
        $in = Get-CmdletInput $Cmdlet $cloud
        # Before each command a node runs, the hook notes how many run at once: reads and writes
        # (the command that writes a file makes its temporary with mktemp) apart, each step watched.
        $dir = Join-Path $TestDrive "throttle-$([guid]::NewGuid())"
        New-Item -ItemType Directory "$dir/read", "$dir/write" | Out-Null
        Set-Content $hook ("case `"`$SSH_ORIGINAL_COMMAND`" in *mktemp*) $(Get-ThrottleWatchCommand "$dir/write") ;; " +
            "*) $(Get-ThrottleWatchCommand "$dir/read") ;; esac")

        $r = Invoke-ConfigurationCmdlet $Cmdlet $in @{ ThrottleLimit = 1 }
        $r.Errors | Should -BeNullOrEmpty
        Get-Done $Cmdlet $cloud $r | Should -Be 3
        # Test- reads each node's file, Restore- writes it, Update- does both.
        $steps = @{ 'Test-DfConfiguration' = @('read'); 'Update-DfConfiguration' = @('read', 'write'); 'Restore-DfConfiguration' = @('write') }[$Cmdlet]
        foreach ($step in 'read', 'write') {
            if ($step -notin $steps) { "$dir/$step/max" | Should -Not -Exist; continue }
            $seen = @(Get-Content "$dir/$step/max")
            $seen.Count | Should -Be 3 -Because "each node should $step once"
            ($seen | Measure-Object -Maximum).Maximum | Should -Be 1 -Because "no two nodes should $step at once"
        }
    }
}
