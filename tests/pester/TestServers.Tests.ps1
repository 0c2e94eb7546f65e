# The test machinery itself: the test-server scripts on a machine that lacks a server (a newcomer's
# first build.ps1 Test must name the missing program and the Debian package that provides it), the
# test nodes, the wait for what a killed upgrade left on them, and the test services a killed run leaves behind.
Describe 'Starting the test servers on a machine without them' {
    BeforeAll {
        $script:servers = Join-Path $PSScriptRoot '../servers'
    }

    It 'names <Program> and its package <Package> when it is not installed' -ForEach @(
        @{ Script = 'redis.server.ps1'; Program = 'redis-server'; Package = 'redis-server' }
        @{ Script = 'etcd.server.ps1'; Program = 'etcd'; Package = 'etcd-server' }
        @{ Script = 'mariadb.server.ps1'; Program = 'mariadbd'; Package = 'mariadb-server' }
        # The server installed, its client not.
        @{ Script = 'mariadb.server.ps1'; Program = 'mariadb'; Package = 'mariadb-client'; Installed = 'mariadbd', 'mariadb-install-db' }
    ) {
        $state = Join-Path ([IO.Path]::GetTempPath()) ([guid]::NewGuid())
        $emptyPath = Join-Path $state 'bin'
        New-Item -ItemType Directory $emptyPath -Force | Out-Null
        foreach ($tool in $(if ($_.ContainsKey('Installed')) { $_.Installed })) {
            $source = Get-Command $tool -CommandType Application | Select-Object -First 1 -ExpandProperty Source
            New-Item -ItemType SymbolicLink -Path (Join-Path $emptyPath $tool) -Target $source | Out-Null
        }
        $path = $env:PATH
        try {
            # As build.ps1 runs them: under strict mode; here with a PATH that lacks the server.
            $env:PATH = $emptyPath
            $start = { Set-StrictMode -Version Latest; & (Join-Path $servers $Script) -Action Start -StateDir $state }
            $start | Should -Throw -ExpectedMessage "*$Program is not installed (Debian package $Package;*"
        }
        finally {
            $env:PATH = $path
            Remove-Item $state -Recurse -Force -ErrorAction SilentlyContinue
        }
    }
}

Describe 'The test nodes' {
    It 'run each command without the login user''s ~/.bashrc, which bash skips in a nested shell' {
        # Bash reads ~/.bashrc for a command sshd starts unless SHLVL says it is nested (2 or more):
        # a slow rc file would otherwise cost every command of every test its time.
        $nodes = Get-Content (Join-Path $env:DF_TEST_SSH_DIR 'nodes.json') -Raw | ConvertFrom-Json
        $out = ssh -i (Join-Path $env:DF_TEST_SSH_DIR 'id_ed25519') -p $nodes.Port -o BatchMode=yes -o LogLevel=ERROR `
            -o "UserKnownHostsFile=$(Join-Path $env:DF_TEST_SSH_DIR 'known_hosts')" "$($nodes.User)@$($nodes.Nodes[0].Address)" 'echo $SHLVL'
        $LASTEXITCODE | Should -Be 0
        [int]$out | Should -BeGreaterOrEqual 2
    }
}

Describe 'The wait for what a killed upgrade left on the nodes' {
    BeforeAll {
        . "$PSScriptRoot/NeutronSupport.ps1"
        . "$PSScriptRoot/UpgradeSupport.ps1"
        # A mariadb client that answers at once and touches no database: the stand-in's steps run
        # without the test MariaDB, and it stops where its hold file says.
        $script:bin = Join-Path $TestDrive 'bin'
        New-Item -ItemType Directory $bin | Out-Null
        Set-Content (Join-Path $bin 'mariadb') "#!/bin/sh`nexit 0"
        chmod +x (Join-Path $bin 'mariadb')
        $script:cloud = @{ Dir = Join-Path $TestDrive 'cloud' }

        # Starts the inventory's Migrate command as a node would, against the MariaDB at $MariaDb.
        function Start-HeldMigrate([string] $Name, [string] $MariaDb = $env:DF_TEST_MARIADB) {
            $hold = Join-Path $TestDrive "$Name.hold"
            New-Item $hold | Out-Null
            $command = (Get-TestNeutronCommands (Join-Path $TestDrive $Name)).Migrate.
                Replace('{password}', 'unused').Replace("DF_TEST_MARIADB=$env:DF_TEST_MARIADB", "DF_TEST_MARIADB=$MariaDb")
            $info = [Diagnostics.ProcessStartInfo]::new('bash')
            $info.ArgumentList.Add('-c')
            $info.ArgumentList.Add($command)
            # A node's command gets its environment from sshd, not from these tests.
            $info.Environment.Remove('DF_TEST_MARIADB') | Out-Null
            $info.Environment['PATH'] = "${bin}:$env:PATH"
            $info.RedirectStandardOutput = $true
            $process = [Diagnostics.Process]::Start($info)
            Wait-Path "$hold.reached" -Seconds 60 -Process $process
            @{ Process = $process; Hold = $hold }
        }
    }

    It 'waits for the neutron-db-manage stand-in this part''s inventory started, and not for one against another MariaDB' {
        $mariadbHost, $port = $env:DF_TEST_MARIADB -split ':'
        $other = Start-HeldMigrate 'other' "${mariadbHost}:$(1 + $port)"
        try {
            Wait-LeftCommand $cloud 5
            $mine = Start-HeldMigrate 'mine'
            try {
                $thrown = { Wait-LeftCommand $cloud 1 } | Should -Throw -ExpectedMessage 'Commands left on the nodes still run after 1 s: *' -PassThru
                # The held stand-in forks a sleep now and then, which may be listed beside it.
                $left = $thrown.Exception.Message.Substring('Commands left on the nodes still run after 1 s: '.Length) -split '; '
                $left | Should -Contain "$($mine.Process.Id) bash $(Get-TestNeutronMigrate) upgrade heads"
                $left -like "$($other.Process.Id) *" | Should -BeNullOrEmpty
                Remove-Item $mine.Hold
                Wait-LeftCommand $cloud 60
                $mine.Process.HasExited | Should -BeTrue
                $mine.Process.ExitCode | Should -Be 0
            }
            finally { if (-not $mine.Process.HasExited) { $mine.Process.Kill() } }
            $other.Process.HasExited | Should -BeFalse
        }
        finally {
            Remove-Item $other.Hold -ErrorAction SilentlyContinue
            if (-not $other.Process.WaitForExit(10000)) { $other.Process.Kill() }
        }
    }
}

# A killed test run leaves its test services running; the next run removes their folders (the sshd
# server's start, or the parts' folder of a full run), and then they must write no more heartbeats.
Describe 'A test service whose folder is removed' {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
        . (Join-Path $PSScriptRoot '../fixtures/remote/TestCloud.ps1')
        $script:script = Join-Path $PSScriptRoot '../fixtures/remote/df-test-service.sh'
        # Each New-TestCloud database is some test's; 59 is also Upgrade.Tests.ps1's scratch database, which it empties first.
        $script:cloud = New-TestCloud -RedisDb 59 -NodeCount 1
        $script:node = (Get-DfNode $cloud.Inventory)[0].Name
        function Wait-Until([scriptblock] $Done, [string] $Failure) {
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while (-not (& $Done)) {
                if ([DateTime]::UtcNow -gt $deadline) { throw $Failure }
                Start-Sleep -Milliseconds 50
            }
        }
        # The pids of the service daemons running for this cloud's folder.
        function Get-ServiceRun {
            Get-ChildItem /proc -Directory -ErrorAction SilentlyContinue | Where-Object Name -Match '^\d+$' |
                Where-Object { (Get-Content "$($_.FullName)/cmdline" -Raw -ErrorAction SilentlyContinue) -like "*df-test-service.sh*run*$($cloud.ServiceDir)*" } |
                ForEach-Object { [int]$_.Name }
        }
    }
    AfterAll { Remove-TestCloud $cloud }

    It 'ends by itself, as a service a killed test run left running must' {
        $id = $null
        try {
            Invoke-TestService $cloud start $node df-local-controller | Should -Be 0
            $id = [int](Get-Content (Join-Path $cloud.ServiceDir "$node/df-local-controller.pid"))
            # Its first heartbeat written and logged: nothing of it is still writing into the folder.
            Wait-Until { Get-TestServiceEvent $cloud | Where-Object What -EQ 'first-beat' } 'The service wrote no heartbeat within 30 s.'

            Remove-Item $cloud.Dir -Recurse -Force
            Wait-Until { -not (Test-ProcessRunning $id) } "The service ($id) still runs 30 s after its folder was removed."
        }
        finally {
            # Remove-TestCloud cannot find it any more: its pid file went with the folder.
            if ($id -and (Test-ProcessRunning $id)) { Stop-TestServiceGroup $id }
        }
    }

    It 'starts nothing when its start was held, as a start a killed test run left waiting' {
        $start = $null
        try {
            New-Item -ItemType Directory $cloud.ServiceDir -Force | Out-Null
            New-Item (Join-Path $cloud.ServiceDir 'start.hold-pike') -Force | Out-Null
            $start = Start-Process bash -ArgumentList $script, 'start', $cloud.ServiceDir, "$($env:DF_TEST_REDIS)/$($cloud.RedisDb)", $node, 'df-local-controller' -PassThru
            Wait-Until { Test-Path (Join-Path $cloud.ServiceDir 'start.reached') } 'The start did not reach its hold within 30 s.'

            Remove-Item $cloud.Dir -Recurse -Force
            $start.WaitForExit(30000) | Should -BeTrue -Because 'the start ends once its hold file is gone'
            (Get-ServiceRun) -join ' ' | Should -BeNullOrEmpty -Because 'no service started (these are their pids)'
            Test-Path $cloud.Dir | Should -BeFalse -Because 'nothing made the folder again'
            $start.ExitCode | Should -Be 1 -Because 'the start says it started nothing'
        }
        finally {
            if ($start -and -not $start.HasExited) { $start.Kill($true) }
            foreach ($id in Get-ServiceRun) { Stop-TestServiceGroup $id }
        }
    }
}
