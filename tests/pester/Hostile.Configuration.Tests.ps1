# The configuration part of the hostile-input suite: a node's dragonflow.ini that is missing,
# unreadable or malformed stops that file alone, with an error naming node, file (and line),
# and is left as it was; the other nodes are still read.
BeforeDiscovery {
    $cases = @(
        @{ Case = 'a missing file'; Id = 'ConfigFileNotFound'; Culprit = '%FILE% does not exist.'; Make = { param($f) Remove-Item $f } }
        @{ Case = 'a folder where the file should be'; Id = 'ConfigFileUnreadable'; Culprit = '%FILE% is not a regular file (a folder or a device).'; Make = { param($f) Remove-Item $f; New-Item -ItemType Directory $f | Out-Null } }
        @{ Case = 'a group header without its bracket'; Id = 'ConfigFileMalformed'; Culprit = '%FILE% line 23 starts a group but does not end with '']''.'; Make = { param($f) (Get-Content $f -Raw).Replace('[df_l2_app]', '[df_l2_app') | Set-Content $f -NoNewline } }
        @{ Case = 'a line with no value'; Id = 'ConfigFileMalformed'; Culprit = '%FILE% line 9 is neither a comment'; Make = { param($f) (Get-Content $f -Raw).Replace('nb_db_class = etcd_nb_db_driver', 'nb_db_class etcd_nb_db_driver') | Set-Content $f -NoNewline } }
        @{ Case = 'an indented line after a blank one'; Id = 'ConfigFileMalformed'; Culprit = '%FILE% line 23 is indented, but follows no option'; Make = { param($f) (Get-Content $f -Raw).Replace("monitor_table_poll_time = 30`n`n", "monitor_table_poll_time = 30`n`n  orphan = 1`n") | Set-Content $f -NoNewline } }
        @{ Case = 'an option before any group'; Id = 'ConfigFileMalformed'; Culprit = "%FILE% line 1 sets 'debug' before any [group]"; Make = { param($f) "debug = True`n" + (Get-Content $f -Raw) | Set-Content $f -NoNewline } }
        @{ Case = 'bytes that are not UTF-8'; Id = 'ConfigFileMalformed'; Culprit = '%FILE% line 3 is not UTF-8 text'; Make = { param($f) [IO.File]::WriteAllBytes($f, [byte[]](0x5B, 0x64, 0x66, 0x5D, 0x0A, 0x61, 0x3D, 0x31, 0x0A, 0x62, 0x3D, 0xC3, 0x28, 0x0A)) } }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    . (Join-Path $PSScriptRoot 'ConfigurationSupport.ps1')
    $cloud = New-ConfigurationCloud
    $ssh = $cloud.Ssh
    $next = New-RenamingManifest (Join-Path $TestDrive 'next.json')
}

Describe 'A node''s dragonflow.ini with <Case>' -ForEach $cases {
    BeforeEach {
        Set-NodeConfiguration $cloud
        $bad = $cloud.Files[0]
        & $Make $bad
        $before = if (Test-Path $bad -PathType Leaf) { [Convert]::ToBase64String([IO.File]::ReadAllBytes($bad)) }
        $culprit = $Culprit.Replace('%FILE%', $bad)
        $node = $cloud.Nodes[0].Name
    }

    It 'fails that file alone with <Id>, naming node, file and line, and reads the other node' {
        $findings = $cloud.Nodes | Test-DfConfiguration -TargetRelease queens @ssh -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike "$Id,*"
        $errors[0].Exception.Message | Should -BeLike "${node}: $([WildcardPattern]::Escape($culprit))*"
        $errors[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        @($findings.Node | Select-Object -Unique) | Should -Be @($cloud.Nodes[1].Name)
    }

    It 'is left as it was by Update-DfConfiguration, which still updates the other node' {
        $changes = $cloud.Nodes | Update-DfConfiguration -TargetRelease $next -SourceRelease queens -BackupPath (Join-Path $TestDrive 'b') @ssh -Confirm:$false -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors[0].FullyQualifiedErrorId | Should -BeLike "$Id,*"
        @($changes.Node.Name) | Should -Be @($cloud.Nodes[1].Name)
        if ($null -ne $before) { [Convert]::ToBase64String([IO.File]::ReadAllBytes($bad)) | Should -Be $before }
        Get-ChildItem (Split-Path $bad) -Filter '*.df-*' | Should -BeNullOrEmpty
    }
}

Describe 'Hostile configuration arguments' {
    It 'refuses a DragonflowConfig that is not an absolute path, naming the inventory field' {
        $inventory = Join-Path $TestDrive 'relative.psd1'
        "@{ Roles = @{ compute = @{ DragonflowConfig = 'etc/dragonflow.ini' } }; Nodes = @( @{ Name = 'a'; Address = '127.0.0.1'; Roles = 'compute' } ) }" | Set-Content $inventory
        { Get-DfNode $inventory } | Should -Throw -ErrorId 'InventoryInvalid,*' -ExpectedMessage "*Roles.compute.DragonflowConfig*'etc/dragonflow.ini' is not an absolute path on the nodes*"
    }

    It 'refuses an unknown release before connecting to any node' {
        { $cloud.Nodes | Test-DfConfiguration -TargetRelease rocky -KnownHostsPath (Join-Path $TestDrive 'none') } |
            Should -Throw -ErrorId 'ReleaseUnknown,*' -ExpectedMessage "*'rocky' is not a Dragonflow release*"
        Join-Path $TestDrive 'none' | Should -Not -Exist
    }

    It 'refuses an option manifest that is not one, naming the file' {
        $broken = Join-Path $TestDrive 'broken.json'
        '{ "release": "x", "groups": [' | Set-Content $broken
        { $cloud.Nodes | Test-DfConfiguration -TargetRelease $broken -SourceRelease queens @ssh } |
            Should -Throw -ErrorId 'OptionManifestInvalid,*' -ExpectedMessage "The option manifest $broken cannot be read:*"
    }

    It 'renames in the file a symbolic link points to, and leaves the link a link (<Command>)' -ForEach @(
        @{ Command = 'Update-DfConfiguration' }, @{ Command = 'Restore-DfConfiguration' }
    ) {
        Set-NodeConfiguration $cloud
        $link = $cloud.Files[0]
        $real = Join-Path (Split-Path $link) 'managed.ini'
        Remove-Item $real -ErrorAction SilentlyContinue
        Move-Item $link $real
        New-Item -ItemType SymbolicLink -Path $link -Target $real | Out-Null
        $original = [IO.File]::ReadAllText($real)
        $changes = $cloud.Nodes[0] | Update-DfConfiguration -TargetRelease $next -SourceRelease queens -BackupPath (Join-Path $TestDrive 'b') @ssh -Confirm:$false
        $changes.Node.Name | Should -Be $cloud.Nodes[0].Name
        if ($Command -eq 'Restore-DfConfiguration') {
            $changes | Restore-DfConfiguration @ssh -Confirm:$false
            [IO.File]::ReadAllText($real) | Should -Be $original
        }
        else { [IO.File]::ReadAllText($real) | Should -BeLike '*nb_db_driver*' }
        (Get-Item $link).LinkTarget | Should -Be $real
        @(Get-ChildItem (Split-Path $link) -Filter '*.df-new*').Count | Should -Be 0
    }
}
