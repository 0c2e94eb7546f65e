# The test-server scripts on a machine that lacks a server: a newcomer's first build.ps1 Test
# must name the missing program and the Debian package that provides it.
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
