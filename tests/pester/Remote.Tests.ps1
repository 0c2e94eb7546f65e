BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    . (Join-Path $PSScriptRoot '../fixtures/remote/TestCloud.ps1')
    $cloud = New-TestCloud -RedisDb 52 -NodeCount 3 -WithDownNode
    $ssh = @{ KnownHostsPath = $cloud.KnownHosts }
    $nodes = Get-DfNode $cloud.Inventory
    $up = $nodes | Where-Object Name -NE 'down1'
}

AfterAll { Remove-TestCloud $cloud }

Describe 'Invoke-DfNodeCommand' {
    It 'runs the command on every node from the pipeline and returns one result per node' {
        $results = $up | Invoke-DfNodeCommand 'echo "$SSH_CONNECTION"' @ssh
        $results.Count | Should -Be 3
        foreach ($node in $up) {
            $r = $results | Where-Object { $_.Node.Name -eq $node.Name }
            $r.ExitCode | Should -Be 0
            $r.Output | Should -BeLike "* $($node.Address) $($node.Port)"
            $r.Duration | Should -BeOfType [timespan]
        }
    }

    It 'writes one non-terminating error per failed node and goes on with the others' {
        $failing = $up[1]
        $results = $nodes | Invoke-DfNodeCommand "case `"`$SSH_CONNECTION`" in *' $($failing.Address) '*) echo broken >&2; exit 5;; esac" @ssh -ErrorVariable errors -ErrorAction SilentlyContinue
        $results.Count | Should -Be 4
        $errors.Count | Should -Be 2
        $failed = $errors | Where-Object { $_.FullyQualifiedErrorId -like 'NodeCommandFailed,*' }
        $failed.TargetObject.Name | Should -Be $failing.Name
        $failed.Exception.Message | Should -BeLike "$($failing.Name): exit code 5 from *: broken"
        $down = $errors | Where-Object { $_.FullyQualifiedErrorId -like 'NodeUnreachable,*' }
        $down.TargetObject.Name | Should -Be 'down1'
        $down.CategoryInfo.Category | Should -Be 'ConnectionError'
        ($results | Where-Object { $_.Node.Name -eq 'down1' }).ExitCode | Should -BeNullOrEmpty
    }

    It 'refuses a node whose host key changed, even with -AcceptNewHostKey' {
        $known = Join-Path $TestDrive 'changed_known_hosts'
        # The first node's address, with the second node's key.
        $line = Get-Content $cloud.KnownHosts | Where-Object { $_ -like "``[$($up[1].Address)]:*" }
        Set-Content $known ($line -replace [regex]::Escape($up[1].Address), $up[0].Address)
        $result = $up[0] | Invoke-DfNodeCommand 'true' -KnownHostsPath $known -AcceptNewHostKey -ErrorVariable errors -ErrorAction SilentlyContinue
        $result.ExitCode | Should -BeNullOrEmpty
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'HostKeyRejected,*'
        $errors[0].CategoryInfo.Category | Should -Be 'SecurityError'
        $errors[0].Exception.Message | Should -BeLike "$($up[0].Name) *host key has CHANGED*$known line 1*"
    }

    It 'records the key of a host it does not know only with -AcceptNewHostKey' {
        $known = Join-Path $TestDrive 'new_known_hosts'
        $up[0] | Invoke-DfNodeCommand 'true' -KnownHostsPath $known -ErrorVariable errors -ErrorAction SilentlyContinue | Out-Null
        $errors[0].Exception.Message | Should -BeLike '*is not in*-AcceptNewHostKey*'
        $known | Should -Not -Exist

        $r = $up[0] | Invoke-DfNodeCommand 'true' -KnownHostsPath $known -AcceptNewHostKey -WarningVariable warnings -WarningAction SilentlyContinue
        $r.ExitCode | Should -Be 0
        $warnings[0] | Should -BeLike "$($up[0].Name): recorded its new ssh-ed25519 host key SHA256:*"
        Get-Content $known | Should -Be (Get-Content $cloud.KnownHosts | Where-Object { $_ -like "``[$($up[0].Address)]:*" })
    }

    It 'logs every remote command it runs as verbose output' {
        $verbose = $up[0] | Invoke-DfNodeCommand 'echo logged' @ssh -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $verbose.Message | Should -Contain "$($up[0].Name): echo logged"
        $verbose.Message -like "$($up[0].Name): exit 0 after *" | Should -Not -BeNullOrEmpty
    }

    It 'runs nothing with -WhatIf' {
        $marker = Join-Path $TestDrive 'touched'
        $results = $up | Invoke-DfNodeCommand "touch '$marker'" @ssh -WhatIf
        $results | Should -BeNullOrEmpty
        $marker | Should -Not -Exist
    }

    It 'shows results as a table of node, exit code, duration and output' {
        $table = $up[0] | Invoke-DfNodeCommand 'echo shown' @ssh | Out-String
        $table | Should -Match 'Node\s+ExitCode\s+Duration\s+Output'
        $table | Should -Match "$($up[0].Name)\s+0\s+[\d.]+ s\s+shown"
    }
}

Describe 'Get-DfServiceStatus' {
    It 'tells each service on each node Running, Stopped, Failed or Unknown' {
        $second = $up[1].Name
        Invoke-TestService $cloud start $second df-local-controller | Should -Be 0
        Invoke-TestService $cloud start $second df-metadata-service | Should -Be 0
        # Killed: dead, its pid file left. Dead means gone, or a zombie that no parent has reaped.
        $killed = [int](Get-Content (Join-Path $cloud.ServiceDir "$second/df-metadata-service.pid"))
        Stop-Process -Id $killed -Force
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (Test-ProcessRunning $killed) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "Process $killed still runs 30 s after it was killed." }
            Start-Sleep -Milliseconds 20
        }

        $status = $nodes | Get-DfServiceStatus @ssh -ErrorVariable errors -ErrorAction SilentlyContinue
        $of = { param($n, $s) ($status | Where-Object { $_.Node.Name -eq $n -and $_.Service.Name -eq $s }).Status }
        & $of $up[0].Name neutron-server | Should -Be 'Stopped'
        & $of $second df-local-controller | Should -Be 'Running'
        & $of $second df-metadata-service | Should -Be 'Failed'
        & $of down1 df-local-controller | Should -Be 'Unknown'
        $status.Count | Should -Be (($nodes.Services).Count)
        $errors.Count | Should -Be 1
        $errors[0].TargetObject.Name | Should -Be 'down1'
    }
}
